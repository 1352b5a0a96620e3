"""The payments clients a learner's Part B tests are graded against (testing assignment).

Each entry is ``(file name, kind, description)``: the file in this folder,
``"wheat"`` (correct) or ``"chaff"`` (one plausible bug), and the one line
feedback may show. For a chaff that line names its bug class; for a wheat it
says how it differs from the given client (feedback shows it when a suite
rejects that wheat). Feedback never shows an implementation's code or file
name.

The given client itself, ``course/contracts/payments_client.py``, is the
first wheat. To add a chaff: copy that file here, change exactly one thing,
shorten its docstring to say what (as the others do), add a line below, and
check that the reference suite in ``../reference/`` fails on it and that the
assignment's visible tests still pass on it (``tests/grading/test_testing_clients.py``
does both).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The client the learner is given (and reads): the first wheat.
GIVEN_CLIENT = HERE.parents[3] / "course" / "contracts" / "payments_client.py"
#: The module name every implementation is loaded under in a graded run.
MODULE = "course.contracts.payments_client"

#: (file name, "wheat" or "chaff", what feedback may say about it); file names are in this folder,
#: but the first, which is :data:`GIVEN_CLIENT`.
CATALOG: list[tuple[str, str, str]] = [
    ("payments_client.py", "wheat", "is the client given in the assignment"),
    ("wheat_urllib.py", "wheat",
     "sends its request with urllib (other headers, in another order), writes its idempotency key as 32 hex "
     "digits without dashes, and draws its jitter another way"),
    ("chaff_new_key_per_retry.py", "chaff", "makes a new idempotency key for each retry"),
    ("chaff_retries_client_errors.py", "chaff", "retries requests the service rejected with a 4xx such as 400"),
    ("chaff_no_timeout.py", "chaff",
     "sets no timeout on its requests, so a service that never answers blocks it for ever"),
    ("chaff_ignores_retry_after.py", "chaff", "ignores Retry-After and waits only its own backoff"),
    ("chaff_ignores_deadline.py", "chaff", "ignores the overall deadline"),
    ("chaff_server_error_as_success.py", "chaff", "treats a 5xx answer as a successful payment"),
    ("chaff_no_jitter.py", "chaff", "waits a fixed exponential backoff, with no jitter"),
    ("chaff_unlimited_429.py", "chaff", "keeps retrying 429 answers without counting them against max_attempts"),
    ("chaff_extra_attempt.py", "chaff", "makes one attempt more than max_attempts (it counts retries, not attempts)"),
    ("chaff_timeout_not_cut.py", "chaff",
     "gives every attempt its full timeout even when the deadline is nearer, so a call overruns its deadline"),
]


def implementations() -> list[tuple[Path, bool, str]]:
    """Every entry as ``(path, is a wheat, description)``, the given client first."""
    return [(GIVEN_CLIENT if i == 0 else HERE / name, kind == "wheat", description)
            for i, (name, kind, description) in enumerate(CATALOG)]
