"""The Pact Broker's compatibility matrix and its ``can-i-deploy`` question, modelled in memory.

The real answer comes from a Pact Broker, a server (Ruby, usually run in
Docker) that is not a Python package, so lesson 06 uses this model instead.
It keeps what the Broker keeps:

- **pacticipant versions**, and for each consumer version the pact it
  published (a pact is identified by its content, so two consumer versions
  that publish the same pact share its verification results, as in the
  Broker);
- **verification results**: provider version x pact -> passed or failed
  (the latest result counts);
- **environments**: which version of each pacticipant is deployed where
  (``record_deployment`` replaces the previous one, like
  ``pact-broker record-deployment``).

``can_i_deploy(pacticipant, version, to_environment)`` gives the Broker's
answer: the version may be deployed if, for every integration with a version
currently in that environment, a successful verification exists between the
two. As a consumer, each provider it has a pact with must be in the
environment at a version that verified that pact; as a provider, every
consumer version in the environment that has a pact with it must have had
that pact verified by this version. :func:`broker_command` shows the real
command the model stands for.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

__all__ = ["Decision", "Matrix", "broker_command", "record_deployment_command"]


@dataclass(frozen=True)
class Decision:
    """The answer to can-i-deploy: ``ok`` and one reason per integration checked (or why none was)."""

    ok: bool
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = "Computer says yes \\o/" if self.ok else "Computer says no ¯\\_(ツ)_/¯"
        return "\n".join([head, *(f"  - {reason}" for reason in self.reasons)])


@dataclass(frozen=True)
class _Pact:
    consumer: str
    provider: str
    content: str


class Matrix:
    """Pacticipant versions, published pacts, verification results and deployments.

    ``environments`` are the environments that exist (the Broker needs them
    created before anything is deployed to them).
    """

    def __init__(self, environments: tuple[str, ...] | list[str] = ("test", "production")):
        environments = tuple(environments)
        if not environments or not all(isinstance(e, str) and e for e in environments):
            raise ValueError(f"environments must be non-empty names, got {environments!r}")
        self.environments = environments
        self._versions: dict[str, list[str]] = {}                        # pacticipant -> versions, in order
        self._pacts: dict[tuple[str, str], dict[str, _Pact]] = {}       # (consumer, version) -> provider -> pact
        self._verifications: dict[tuple[str, str, _Pact], bool] = {}     # (provider, version, pact) -> passed
        self._deployed: dict[tuple[str, str], str] = {}                  # (pacticipant, environment) -> version

    # -- recording --------------------------------------------------------------------------------

    def add_version(self, pacticipant: str, version: str) -> None:
        """Make ``version`` of ``pacticipant`` known (publishing a pact or a verification does this too)."""
        _name("pacticipant", pacticipant)
        _name("version", version)
        versions = self._versions.setdefault(pacticipant, [])
        if version not in versions:
            versions.append(version)

    def publish_pact(self, consumer: str, version: str, provider: str, content: str) -> None:
        """Consumer ``version`` publishes its pact with ``provider``.

        ``content`` identifies what the pact says (in the Broker, its content
        hash): equal content means the same pact, whichever version published it.
        """
        _name("provider", provider)
        _name("content", content)
        if provider == consumer:
            raise ValueError(f"provider must differ from consumer, got {provider!r} for both")
        self.add_version(consumer, version)
        self._pacts.setdefault((consumer, version), {})[provider] = _Pact(consumer, provider, content)

    def record_verification(self, provider: str, provider_version: str, consumer: str, consumer_version: str,
                            success: bool) -> None:
        """``provider_version`` verified the pact published by ``consumer_version``: passed or failed.

        The result belongs to the pact's content, so it also holds for every
        other consumer version that published the same pact. A later result
        for the same pact and provider version replaces an earlier one.
        """
        pact = self._pact(consumer, consumer_version, provider)
        if pact is None:
            raise ValueError(f"consumer_version: {consumer} {consumer_version} published no pact with {provider}")
        if not isinstance(success, bool):
            raise ValueError(f"success must be True or False, got {success!r}")
        self.add_version(provider, provider_version)
        self._verifications[(provider, provider_version, pact)] = success

    def record_deployment(self, pacticipant: str, version: str, environment: str) -> None:
        """``version`` of ``pacticipant`` is now deployed in ``environment``, replacing the previous one."""
        self._check_version(pacticipant, version)
        self._check_environment("environment", environment)
        self._deployed[(pacticipant, environment)] = version

    # -- questions --------------------------------------------------------------------------------

    def deployed(self, pacticipant: str, environment: str) -> str | None:
        """The version of ``pacticipant`` deployed in ``environment``, or None."""
        self._check_environment("environment", environment)
        return self._deployed.get((pacticipant, environment))

    def verified(self, provider: str, provider_version: str, consumer: str, consumer_version: str) -> bool | None:
        """The latest verification result between the two versions: True, False or None (never verified)."""
        pact = self._pact(consumer, consumer_version, provider)
        if pact is None:
            return None
        return self._verifications.get((provider, provider_version, pact))

    def rows(self) -> list[tuple[str, str, str, str, bool | None]]:
        """The matrix: (consumer, consumer version, provider, provider version, verified?) for every pact
        and every provider version known, as the Broker's matrix page shows it."""
        table = []
        for (consumer, consumer_version), pacts in self._pacts.items():
            for provider, pact in pacts.items():
                for provider_version in self._versions.get(provider, []):
                    result = self._verifications.get((provider, provider_version, pact))
                    table.append((consumer, consumer_version, provider, provider_version, result))
        return table

    def can_i_deploy(self, pacticipant: str, version: str, to_environment: str) -> Decision:
        """May ``version`` of ``pacticipant`` be deployed to ``to_environment``? The Broker's semantics."""
        self._check_version(pacticipant, version)
        self._check_environment("to_environment", to_environment)
        reasons: list[str] = []
        ok = True
        # As a consumer: every provider it has a pact with must be there, at a version that verified that pact.
        for provider, pact in sorted(self._pacts.get((pacticipant, version), {}).items()):
            there = self._deployed.get((provider, to_environment))
            if there is None:
                ok = False
                reasons.append(f"no version of {provider} is deployed in {to_environment}, so nothing has verified "
                               f"the pact of {pacticipant} {version} there")
                continue
            ok &= self._judge(reasons, pacticipant, version, provider, there, pact, to_environment)
        # As a provider: every consumer version in the environment with a pact with it must be verified by it.
        for (consumer, environment), consumer_version in sorted(self._deployed.items()):
            if environment != to_environment or consumer == pacticipant:
                continue
            pact = self._pact(consumer, consumer_version, pacticipant)
            if pact is not None:
                ok &= self._judge(reasons, consumer, consumer_version, pacticipant, version, pact, to_environment)
        if not reasons:
            reasons.append(f"{pacticipant} {version} has no integrations with anything in {to_environment}")
        return Decision(ok, reasons)

    # -- helpers ----------------------------------------------------------------------------------

    def _judge(self, reasons: list[str], consumer: str, consumer_version: str, provider: str, provider_version: str,
               pact: _Pact, environment: str) -> bool:
        result = self._verifications.get((provider, provider_version, pact))
        pair = f"{consumer} {consumer_version} -> {provider} {provider_version}"
        if result is None:
            reasons.append(f"{pair}: no verification result (the pact was never verified by this provider version)")
        elif result:
            reasons.append(f"{pair}: verified")
        else:
            reasons.append(f"{pair}: verification FAILED")
        return bool(result)

    def _pact(self, consumer: str, consumer_version: str, provider: str) -> _Pact | None:
        return self._pacts.get((consumer, consumer_version), {}).get(provider)

    def _check_version(self, pacticipant: str, version: str) -> None:
        if pacticipant not in self._versions:
            raise ValueError(f"pacticipant {pacticipant!r} is unknown (known: {', '.join(self._versions) or 'none'})")
        if version not in self._versions[pacticipant]:
            raise ValueError(f"version {version!r} of {pacticipant} is unknown "
                             f"(known: {', '.join(self._versions[pacticipant])})")

    def _check_environment(self, parameter: str, environment: str) -> None:
        if environment not in self.environments:
            raise ValueError(f"{parameter} must be one of {', '.join(self.environments)}, got {environment!r}")


def _name(parameter: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{parameter} must be a non-empty string, got {value!r}")


def broker_command(pacticipant: str, version: str, to_environment: str, *, broker_base_url: str | None = None) -> str:
    """The real Pact Broker CLI command that :meth:`Matrix.can_i_deploy` stands for."""
    for parameter, value in (("pacticipant", pacticipant), ("version", version), ("to_environment", to_environment)):
        _name(parameter, value)
    words = ["pact-broker", "can-i-deploy", "--pacticipant", pacticipant, "--version", version,
             "--to-environment", to_environment]
    if broker_base_url:
        words += ["--broker-base-url", broker_base_url]
    return shlex.join(words)


def record_deployment_command(pacticipant: str, version: str, environment: str) -> str:
    """The real Pact Broker CLI command that :meth:`Matrix.record_deployment` stands for."""
    for parameter, value in (("pacticipant", pacticipant), ("version", version), ("environment", environment)):
        _name(parameter, value)
    return shlex.join(["pact-broker", "record-deployment", "--pacticipant", pacticipant, "--version", version,
                       "--environment", environment])
