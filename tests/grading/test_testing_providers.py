"""The testing assignment's Part A: payments providers (wheats and chaffs) and the consumer suites that grade them.

The reference consumer suite (``autograder/implementations/testing/reference/test_orders_pact.py``)
and the two weak ones (``weak/*_pact.py``) each run once with pytest in a
fresh process, as grading runs a learner's suite, and write a pact. Each pact
is then verified with pact's own ``Verifier`` against the providers of
``autograder/implementations/testing/providers/catalog.py``, each served with
:func:`course.loopback.serve` (in this process: grading uses a process per
provider, which changes nothing the tests look at).

The tests assert that the reference pact verifies against every wheat and
fails against every chaff, in exactly the interactions listed in
:data:`CAUGHT_BY`; that those are exactly the calls where the real
:class:`~course.contracts.orders.PaymentsGateway` trips over that chaff (so
each chaff breaks something the consumer relies on, and no wheat does); that
the over-specified suite rejects a wheat and the happy-path suite misses most
chaffs; and that the providers honour the provider states the assignment
quotes.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Verifier  # noqa: E402

from autograder.implementations.testing.providers import catalog  # noqa: E402
from course.contracts.orders import Payment, PaymentsError, PaymentsGateway  # noqa: E402
from course.loopback import serve  # noqa: E402

TESTING = Path(catalog.__file__).resolve().parents[1]
SUITES = {
    "reference": TESTING / "reference" / "test_orders_pact.py",
    "over_specified": TESTING / "weak" / "over_specified_pact.py",
    "happy_path": TESTING / "weak" / "happy_path_pact.py",
}
PROVIDERS = {path.name: (path, wheat) for path, wheat, _ in catalog.implementations()}
WHEATS = [name for name, (_, wheat) in PROVIDERS.items() if wheat]
CHAFFS = [name for name, (_, wheat) in PROVIDERS.items() if not wheat]

# The reference pact's interactions, by description.
GET = "a request for an existing payment"
MISSING = "a request for a payment that does not exist"
CHARGE = "a charge for an order"

#: The interactions of the reference pact that fail against each chaff.
CAUGHT_BY = {
    "chaff_renamed_field.py": {GET, CHARGE},
    "chaff_amount_in_euros.py": {GET, CHARGE},
    "chaff_charge_200.py": {CHARGE},
    "chaff_missing_410.py": {MISSING},
    "chaff_missing_null.py": {MISSING},
    "chaff_api_version.py": {GET, MISSING, CHARGE},
    "chaff_date_format.py": {GET, CHARGE},
}
#: The chaffs the happy-path suite catches: a type matcher sees a missing field and an error answer, nothing else.
HAPPY_PATH_CATCHES = {"chaff_renamed_field.py", "chaff_api_version.py"}


def load(name: str):
    """A fresh provider from the catalog's module ``name`` (loaded from its file, as grading does)."""
    spec = importlib.util.spec_from_file_location(f"payments_provider_{Path(name).stem}", PROVIDERS[name][0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_provider()


@contextlib.contextmanager
def silenced():
    """Hide the verifier's report (the Rust core prints it on fd 1) and pact's state-callback request log."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(io.StringIO()):
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def verify(pact_dir: Path, name: str, *, states_known: bool = True) -> tuple[bool, dict[str, list[str]]]:
    """Verify the pacts in ``pact_dir`` against provider ``name``: passed?, and what failed, by interaction.

    Unless ``states_known`` is false, every provider state the pact asks for must be one the provider knows.
    """
    provider = load(name)
    with serve(provider.app, name="payments") as server:
        verifier = (Verifier("payments", host="127.0.0.1")
                    .add_source(pact_dir)
                    .add_transport(url=server.url)
                    .state_handler(provider.set_state, teardown=True)
                    .set_coloured_output(enabled=False))
        with silenced():
            try:
                verifier.verify()
                passed = True
            except RuntimeError:  # pact's whole answer to a failed verification; the details are in .results
                passed = False
    results = verifier.results
    failing = {r["description"]: problems(r) for r in results["interactionResults"] if r["result"] != "OK"}
    assert passed == results["result"] == (not failing)
    assert not provider.problems if states_known else provider.problems
    return passed, failing


def problems(result: dict) -> list[str]:
    """Pact's words for why one interaction failed: each mismatch, or the error (a state handler that raised)."""
    mismatch = result.get("mismatch") or {}
    found = [m.get("mismatch") or m.get("type", "") for m in mismatch.get("mismatches", [])]
    return found or [mismatch.get("message", "")]


@pytest.fixture(scope="module")
def pacts(tmp_path_factory):
    """Run each suite once with pytest in a fresh process, as grading does; the folder its pact went to, by suite."""
    made = {}

    def pact_dir(suite: str) -> Path:
        if suite not in made:
            workdir = tmp_path_factory.mktemp(suite)
            test_file = workdir / f"test_{suite}.py"
            shutil.copyfile(SUITES[suite], test_file)
            env = {**os.environ, "PACT_DIR": str(workdir / "pacts"), "PACT_DO_NOT_TRACK": "true",
                   "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
            run = subprocess.run([sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider",
                                  "--rootdir", str(workdir), "-o", "addopts="],
                                 cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, f"the {suite} consumer suite failed:\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
            assert [p.name for p in (workdir / "pacts").iterdir()] == ["orders-payments.json"]
            made[suite] = workdir / "pacts"
        return made[suite]

    return pact_dir


@pytest.fixture(autouse=True)
def no_leftover_threads():
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


def test_the_catalog_has_two_wheats_and_five_chaffs_each_with_a_file():
    assert len(WHEATS) >= 2 and len(CHAFFS) >= 5
    assert set(CAUGHT_BY) == set(CHAFFS)
    for path, _ in PROVIDERS.values():
        assert path.is_file(), path
    found = [p.name for pattern in ("wheat_*.py", "chaff_*.py") for p in catalog.HERE.glob(pattern)]
    assert sorted(found) == sorted(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_provider_imports_only_the_standard_library_and_course_loopback(name):
    """Grading compiles each provider alone and loads it where the course repository is hidden."""
    tree = ast.parse(PROVIDERS[name][0].read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "re", "threading", "course.loopback"}


@pytest.mark.parametrize("name", WHEATS)
def test_the_reference_pact_verifies_against_every_wheat(pacts, name):
    passed, failing = verify(pacts("reference"), name)
    assert passed, failing


@pytest.mark.parametrize("name", CHAFFS)
def test_the_reference_pact_fails_every_chaff_in_the_interactions_that_use_the_bug(pacts, name):
    passed, failing = verify(pacts("reference"), name)
    assert not passed
    assert set(failing) == CAUGHT_BY[name], failing
    assert all(failing.values()), failing  # pact names each mismatch


def gateway_failures(name: str) -> set[str]:
    """The reference interactions, played by the real orders gateway against provider ``name``, that raise."""
    provider = load(name)
    calls = {
        GET: ("payment p-1 exists", lambda gateway: gateway.get_payment("p-1")),
        MISSING: ("no payment p-404", lambda gateway: gateway.get_payment("p-404")),
        CHARGE: ("order o-7 can be charged", lambda gateway: gateway.charge("o-7", 1250, "EUR", idempotency_key="k-1")),
    }
    failures = set()
    with serve(provider.app, name="payments") as server:
        gateway = PaymentsGateway(server.url)
        for interaction, (state, call) in calls.items():
            provider.set_state(state, "setup", {})
            try:
                answer = call(gateway)
            except PaymentsError:
                failures.add(interaction)
            else:
                if interaction == GET:
                    assert answer == Payment("p-1", 1250, "EUR", "captured",
                                             datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc))
                elif interaction == MISSING:
                    assert answer is None
                else:
                    assert (answer.amount_cents, answer.currency) == (1250, "EUR")
            finally:
                provider.set_state(state, "teardown", {})
    return failures


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_the_consumer_trips_over_each_chaff_where_the_pact_catches_it(name):
    assert gateway_failures(name) == CAUGHT_BY.get(name, set())


def test_an_over_specified_pact_rejects_a_wheat(pacts):
    outcomes = {name: verify(pacts("over_specified"), name) for name in WHEATS}
    assert outcomes["wheat_plain.py"][0]
    passed, failing = outcomes["wheat_extras.py"]
    assert not passed
    assert set(failing) == {GET, MISSING, CHARGE}  # updated_at's format; the 404's body; the new payment's id


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_happy_path_pact_passes_the_wheats_and_catches_few_chaffs(pacts, name):
    passed, failing = verify(pacts("happy_path"), name)
    assert passed == (name in WHEATS or name not in HAPPY_PATH_CATCHES)
    assert set(failing) <= {GET}


def test_provider_states_take_parameters_and_note_what_they_do_not_know():
    provider = load("wheat_plain.py")
    provider.set_state("payment p-1 exists", "setup", {"id": "p-9", "status": "failed"})
    with serve(provider.app, name="payments") as server:
        found = PaymentsGateway(server.url).get_payment("p-9")
        assert (found.status, found.amount_cents) == ("failed", 1250)
        provider.set_state("payment p-1 exists", "teardown", {"id": "p-9", "status": "failed"})
        assert PaymentsGateway(server.url).get_payment("p-9") is None
    provider.set_state("", "setup", {})  # pact's hook around an interaction with no state
    provider.set_state("order o-7 can be charged", "setup", {"amount_cents": 1250})  # ignored
    assert provider.problems == []
    provider.set_state("payment 1 exists", "setup", {})
    provider.set_state("payment p-1 exists", "setup", {"amount": 1250, "amount_cents": "1250"})
    assert provider.problems == [
        "unknown provider state 'payment 1 exists'; this provider knows 'payment p-1 exists', 'no payment p-404', "
        "'order o-7 can be charged'",
        "provider state 'payment p-1 exists' takes no parameter amount=1250",
        "provider state 'payment p-1 exists' takes no parameter amount_cents='1250'",
    ]
    with pytest.raises(ValueError, match="action"):
        provider.set_state("no payment p-404", "start", None)


def test_a_pact_that_asks_for_an_unknown_state_fails_quickly_on_a_wheat(tmp_path):
    from pact import Pact

    pact = Pact("orders", "payments").with_specification("V4")
    (pact.upon_receiving("a request for an existing payment")
         .given("payment 1 exists")
         .with_request("GET", "/payments/p-1")
         .will_respond_with(200))
    with pact.serve(addr="127.0.0.1") as server:
        urllib.request.urlopen(f"{server.url}/payments/p-1").close()
    pact.write_file(tmp_path)
    passed, failing = verify(tmp_path, "wheat_plain.py", states_known=False)
    assert not passed
    assert failing == {GET: ["expected 200 but was 404"]}  # at once: a state handler that raised would be retried
