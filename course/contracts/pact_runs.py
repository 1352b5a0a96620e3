"""Real pact runs for lesson 06: a consumer test, a provider verification, and a unit test with a double.

Everything here runs pact-python's native core (the mock server and the
verifier) offline, on loopback, and leaves nothing running when the call
returns::

    consumer = run_consumer_test()                       # orders against pact's mock server
    consumer.pact_path                                   # the pact it wrote
    verify_provider(consumer, "renamed_field").message   # pact's own account of what broke

:func:`run_consumer_test` drives :class:`~course.contracts.orders.PaymentsGateway`
against pact's mock server, checks what the client made of each answer, and
writes the pact. ``style="matchers"`` says only what orders relies on (types,
a format for ``created_at``, the set of statuses); ``style="exact"`` is the
over-specified pact a team gets by pasting a recorded response: every field,
every value.

:func:`verify_provider` serves a variant of
:class:`~course.contracts.payments.PaymentsProvider` on loopback and lets
pact's ``Verifier`` replay the pact against it, with the provider's
``set_state`` as the state handler.

:func:`run_unit_test` is the consumer's own unit test: the same calls,
against the hand-written double or against a real provider variant.

Each call returns a :class:`RunResult`. Pact's native core prints its report
to the process's standard output; these functions catch that (and the state
handler's request log) so a notebook cell stays clean, and keep the text in
``RunResult.output``. Importing this module sets ``PACT_DO_NOT_TRACK=true``
(unless already set) so the core sends no usage data, and quietens the
``pact.ffi`` logger to warnings unless its level was set already.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, Verifier, match  # noqa: E402 - after PACT_DO_NOT_TRACK is set

from course.loopback import serve  # noqa: E402

from .orders import Payment, PaymentsGateway  # noqa: E402
from .payments import (  # noqa: E402
    NO_PAYMENT,
    ORDER_CHARGEABLE,
    PAYMENT_EXISTS,
    VARIANTS,
    PaymentsProvider,
    hand_written_double,
)

__all__ = ["CONSUMER", "PROVIDER", "STYLES", "RunResult", "contract_check", "run_consumer_test", "run_unit_test",
           "verify_provider"]

CONSUMER = "orders"
PROVIDER = "payments"
STYLES: tuple[str, ...] = ("matchers", "exact")

if logging.getLogger("pact.ffi").level == logging.NOTSET:
    # The core forwards its INFO chatter (every request it replays) unless told otherwise.
    logging.getLogger("pact.ffi").setLevel(logging.WARNING)

_MESSAGE_LINES = 40


@dataclass(frozen=True)
class RunResult:
    """What one run showed.

    ``passed``: the test or verification succeeded. ``message``: why not, in
    pact's own words where pact said it (trimmed to the failures), or the
    consumer's error; ``""`` when it passed. ``pact_path`` and ``pact``: the
    pact file written or verified (``None`` for a unit test or a failed
    consumer test). ``output``: everything pact reported. ``seconds``: wall
    time. ``server_url``: the server the run talked to (closed by now).
    """

    kind: str
    passed: bool
    message: str
    seconds: float
    pact_path: Path | None = None
    pact: dict[str, Any] | None = None
    output: str = ""
    server_url: str = ""

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        head = f"{self.kind} {verdict} in {self.seconds:.2f} s"
        return head if self.passed else f"{head}\n{self.message}"


# -- the consumer test ---------------------------------------------------------------------------

_ISO_Z = "%Y-%m-%dT%H:%M:%SZ"
_STATUS = "^(pending|captured|failed)$"
# What v1 answers in the provider states, field for field: what a team pastes into an over-specified pact.
_RECORDED_P1 = {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR", "status": "captured",
                "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:05:00Z"}
_RECORDED_CHARGE = {"id": "p-1001", "order_id": "o-7", "amount_cents": 1250, "currency": "EUR", "status": "pending",
                    "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"}
_CHARGE_REQUEST = {"order_id": "o-7", "amount_cents": 1250, "currency": "EUR"}


def _payment_body(example: dict[str, Any], style: str) -> dict[str, Any]:
    if style == "exact":
        return dict(example)
    return {  # only the fields orders reads, each by type or format
        "id": match.str(example["id"]),
        "amount_cents": match.int(example["amount_cents"]),
        "currency": match.str(example["currency"]),
        "status": match.regex(example["status"], regex=_STATUS),
        "created_at": match.datetime(example["created_at"], format=_ISO_Z),
    }


def _define_interactions(pact: Pact, style: str) -> None:
    (pact.upon_receiving("a request for payment p-1")
         .given(PAYMENT_EXISTS)
         .with_request("GET", "/payments/p-1")
         .will_respond_with(200)
         .with_body(_payment_body(_RECORDED_P1, style), content_type="application/json"))
    (pact.upon_receiving("a request for payment p-404")
         .given(NO_PAYMENT)
         .with_request("GET", "/payments/p-404")
         .will_respond_with(404))
    key = "o-7/1" if style == "exact" else match.str("o-7/1")
    (pact.upon_receiving("a charge for order o-7")
         .given(ORDER_CHARGEABLE)
         .with_request("POST", "/payments")
         .with_header("Idempotency-Key", key)
         .with_body(_CHARGE_REQUEST, content_type="application/json")
         .will_respond_with(201)
         .with_body(_payment_body(_RECORDED_CHARGE, style), content_type="application/json"))


def _exercise_consumer(gateway: PaymentsGateway) -> None:
    """The consumer's side of every interaction, with what it must make of each answer."""
    payment = gateway.get_payment("p-1")
    _expect(payment, "p-1", "captured")
    missing = gateway.get_payment("p-404")
    if missing is not None:
        raise AssertionError(f"get_payment('p-404') should be None, got {missing!r}")
    charged = gateway.charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
    _expect(charged, "p-1001", "pending")


def _expect(payment: Payment | None, payment_id: str, status: str) -> None:
    if payment is None:
        raise AssertionError(f"expected payment {payment_id}, got None")
    got = (payment.id, payment.amount_cents, payment.currency, payment.status, payment.created_at.isoformat())
    want = (payment_id, 1250, "EUR", status, "2026-11-30T12:00:00+00:00")
    if got != want:
        raise AssertionError(f"expected {want}, got {got}")


def run_consumer_test(style: str = "matchers", *, directory: str | Path | None = None) -> RunResult:
    """Run the orders consumer test against pact's mock server and write the pact.

    ``style`` is ``"matchers"`` (the contract names only what orders relies
    on) or ``"exact"`` (over-specified: every field of a recorded v1
    response, exact values). The pact is written to ``directory`` (a fresh
    temporary directory by default) only if the test passed.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    start = time.perf_counter()
    pact = Pact(CONSUMER, PROVIDER)
    _define_interactions(pact, style)
    problem = ""
    with _captured() as captured:
        with pact.serve(addr="127.0.0.1", raises=False, verbose=False) as server:
            url = str(server.url)
            try:
                _exercise_consumer(PaymentsGateway(url))
            except Exception as error:  # noqa: BLE001 - a failing consumer test is a result here
                problem = f"{type(error).__name__}: {error}"
        mismatches = [str(m) for m in server.mismatches]
        del server  # stops pact's mock server now, not at the next garbage collection
    if mismatches:
        problem = "\n".join(["pact's mock server did not see the requests the pact describes:", *mismatches, problem]).strip()
    pact_path = None
    document = None
    if not problem:
        folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="pact-", dir=_scratch()))
        pact.write_file(folder, overwrite=True)
        pact_path = folder / f"{CONSUMER}-{PROVIDER}.json"
        document = json.loads(pact_path.read_text())
    return RunResult(f"consumer test ({style})", not problem, problem, time.perf_counter() - start,
                     pact_path, document, captured.text(), url)


# -- the provider verification -------------------------------------------------------------------

def verify_provider(pact: RunResult | str | Path, variant: str = "v1") -> RunResult:
    """Verify a pact against the payments provider ``variant``, served on loopback.

    ``pact`` is a passed consumer run or the path of a pact file. Provider
    states are set up (and torn down) through the provider's ``set_state``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if isinstance(pact, RunResult):
        if pact.pact_path is None:
            raise ValueError(f"pact must have written a pact file; this run did not ({pact.kind} failed)")
        path = pact.pact_path
    else:
        path = Path(pact)
    if not path.is_file():
        raise ValueError(f"pact must be a pact file, got {str(path)!r}")
    start = time.perf_counter()
    provider = PaymentsProvider(variant)
    with _captured() as captured, serve(provider.app, name=f"payments {variant}") as server:
        verifier = (Verifier(PROVIDER, host="127.0.0.1")
                    .add_transport(url=server.url)
                    .add_source(path)
                    .state_handler(provider.set_state, teardown=True)
                    .set_coloured_output(enabled=False))
        try:
            verifier.verify()
            passed = True
        except RuntimeError:  # pact's verifier reports any failed interaction this way
            passed = False
        output = verifier.output(strip_ansi=True)
        results = verifier.results
        _close_state_server(verifier)
        del verifier
    passed = passed and bool(results.get("result"))
    log = "\n".join(part for part in (output.strip(), captured.text()) if part)
    message = "" if passed else _failures(output, results, captured.text())
    if provider.state_problems and not passed:
        message += "\nThe provider could not set up every state it was asked for:\n" + "\n".join(
            f"  {problem}" for problem in dict.fromkeys(provider.state_problems))
    return RunResult(f"verification of {path.name} against payments {variant}", passed, message,
                     time.perf_counter() - start, path, json.loads(path.read_text()), log, server.url)


def contract_check(variant: str, style: str = "matchers") -> RunResult:
    """Write the orders pact in ``style`` and verify it against ``variant``: the whole loop, timed."""
    start = time.perf_counter()
    consumer = run_consumer_test(style)
    if not consumer.passed:
        return consumer
    verification = verify_provider(consumer, variant)
    return RunResult(verification.kind, verification.passed, verification.message, time.perf_counter() - start,
                     verification.pact_path, verification.pact, verification.output, verification.server_url)


def _failures(output: str, results: dict[str, Any], log: str) -> str:
    """Pact's "Failures:" section without the body diffs, plus why a provider state failed, if one did."""
    lines = output.splitlines()
    try:
        first = next(i for i, line in enumerate(lines) if line.strip() == "Failures:")
    except StopIteration:
        errors = results.get("errors") or []
        return json.dumps(errors, indent=1)[:2000] if errors else (output.strip()[-2000:] or "verification failed")
    kept = []
    for line in lines[first:]:
        stripped = line.strip()
        # keep numbered headings ("1) ...", "1.1) ...") and the mismatch lines under them; drop the JSON diff
        if re.match(r"^\d+(\.\d+)*\)", stripped) or re.match(r"^\$\S* -> ", stripped) or "pact failure" in stripped \
                or stripped.startswith(("Failures:", "expected", "Expected", "Request Failed")):
            kept.append(line.rstrip())
    for line in log.splitlines():  # a state handler that failed: the core's line about it
        if re.search(r"state change for .* has failed", line) and line.rstrip() not in kept:
            kept.append(line.rstrip())
    if len(kept) > _MESSAGE_LINES:
        kept = kept[:_MESSAGE_LINES] + [f"... ({len(kept) - _MESSAGE_LINES} more lines in .output)"]
    return "\n".join(kept)


# -- the consumer's unit test with a hand-written double -----------------------------------------

def run_unit_test(against: str = "double") -> RunResult:
    """The orders unit test (get p-1, get p-404, charge o-7) against the double or a real provider.

    ``against`` is ``"double"`` (the hand-written stand-in) or a provider
    variant, served for real with the payments that production would hold
    (payment p-1 exists).
    """
    if against != "double" and against not in VARIANTS:
        raise ValueError(f"against must be 'double' or one of {', '.join(VARIANTS)}, got {against!r}")
    start = time.perf_counter()
    if against == "double":
        app, name = hand_written_double, "payments double"
    else:
        provider = PaymentsProvider(against)
        provider.set_state(PAYMENT_EXISTS, "setup")
        app, name = provider.app, f"payments {against}"
    problem = ""
    with serve(app, name=name) as server:
        gateway = PaymentsGateway(server.url)
        try:
            _expect(gateway.get_payment("p-1"), "p-1", "captured")
            if gateway.get_payment("p-404") is not None:
                raise AssertionError("get_payment('p-404') should be None")
            charged = gateway.charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
            if (charged.amount_cents, charged.currency, charged.status) != (1250, "EUR", "pending"):
                raise AssertionError(f"unexpected charge result {charged!r}")
        except Exception as error:  # noqa: BLE001 - a failing unit test is a result here
            problem = f"{type(error).__name__}: {error}"
    return RunResult(f"unit test against {name}", not problem, problem, time.perf_counter() - start,
                     server_url=server.url)


# -- plumbing ------------------------------------------------------------------------------------

def _close_state_server(verifier: Verifier) -> None:
    """Close the listening socket of pact-python's state-handler server once verification is over.

    pact-python 4.2.0 stops that server (and joins its thread) when verify()
    returns, but leaves its socket open until garbage collection, which then
    warns "unclosed socket". Best effort: if pact's internals change, nothing
    worse than that warning happens.
    """
    server = getattr(getattr(verifier, "_state_handler", None), "_server", None)
    if server is not None:
        with contextlib.suppress(Exception):
            server.server_close()


_scratch_dir: tempfile.TemporaryDirectory | None = None


def _scratch() -> str:
    """One temporary directory per process for written pacts, removed when the interpreter exits.

    A kernel that is shut down by force never runs that cleanup, so the folders
    of processes that no longer exist are removed when the next one is made.
    """
    global _scratch_dir
    if _scratch_dir is None:
        _remove_orphans()
        _scratch_dir = tempfile.TemporaryDirectory(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-")
    return _scratch_dir.name


_SCRATCH_PREFIX = "course-pacts-"


def _remove_orphans() -> None:
    import shutil

    for folder in Path(tempfile.gettempdir()).glob(f"{_SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(_SCRATCH_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # alive, and someone else's
            pass


class _Captured:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self) -> str:
        return "\n".join(part for part in self.parts if part.strip())


@contextlib.contextmanager
def _captured():
    """Catch what pact's native core writes to file descriptors 1 and 2, and Python's sys.stderr.

    The core prints its verification report with Rust's ``println!``, which
    bypasses ``sys.stdout`` (and so would land in a notebook cell through
    ipykernel's descriptor capture); pact-python's state-handler server logs
    each request to ``sys.stderr``; warnings on the ``pact`` loggers would
    reach the cell through logging's last-resort handler. All are kept, not
    shown.
    """
    captured = _Captured()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    records = io.StringIO()
    handler = logging.StreamHandler(records)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    pact_logger = logging.getLogger("pact")
    with tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        stderr = io.StringIO()
        # With a handler of ours on the way, logging's last-resort printer stays quiet too.
        pact_logger.addHandler(handler)
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stderr(stderr):
                yield captured
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            pact_logger.removeHandler(handler)
            sink.seek(0)
            captured.parts += [sink.read().decode("utf-8", "replace"), stderr.getvalue(), records.getvalue()]
