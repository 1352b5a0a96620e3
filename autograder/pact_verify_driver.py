"""Verify ./pacts against the provider compiled beside this file; print one JSON line with the verdict.

The grader (:func:`autograder.wheat_chaff.verify`) copies this file into a
run's folder, next to ``implementation.pyc`` (a provider module with
``make_provider()``, whose object has ``app`` and ``set_state``) and the
learner's pact files, and runs it in the sandbox: ``python verify.py
PROVIDER``. It serves the provider on loopback with :func:`course.loopback.serve`
and runs pact's Verifier against it. Pact's core prints its report on file
descriptor 1, so that is silenced while it runs, and the verdict is the last
line of output: ``{"passed": bool, "message": str}``.
"""

import contextlib
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import sys

os.environ["PACT_DO_NOT_TRACK"] = "true"
HERE = pathlib.Path(__file__).resolve().parent


def load_provider():
    loader = importlib.machinery.SourcelessFileLoader("payments_provider", str(HERE / "implementation.pyc"))
    spec = importlib.util.spec_from_loader("payments_provider", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["payments_provider"] = module
    loader.exec_module(module)
    return module.make_provider()


@contextlib.contextmanager
def quiet():
    """Silence file descriptors 1 and 2 (pact's core writes there directly) and Python's streams."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def mismatches(results) -> str:
    """The failing interactions and their first mismatch, from the Verifier's results."""
    lines = []
    for interaction in (results or {}).get("interactionResults", []) or []:
        if interaction.get("result") == "OK":
            continue
        mismatch = interaction.get("mismatch") or {}
        detail = mismatch.get("message") or ""
        found = mismatch.get("mismatches") or []
        if found and isinstance(found[0], dict):
            detail = found[0].get("mismatch") or detail
        lines.append(f"{interaction.get('description', '?')}: {' '.join(str(detail).split())}")
    return "; ".join(lines)


def main(provider_name: str) -> dict:
    provider = load_provider()
    from course.loopback import serve
    from pact import Verifier

    with serve(provider.app, name=provider_name) as server:
        verifier = (Verifier(provider_name, host="127.0.0.1")
                    .add_transport(url=server.url)
                    .add_source(str(HERE / "pacts"))
                    .state_handler(provider.set_state, teardown=True))
        try:
            with quiet():
                verifier.verify()
        except Exception:  # pact raises RuntimeError with no detail; the detail is in .results
            message = mismatches(getattr(verifier, "results", None)) or "the provider did not verify"
            problems = list(getattr(provider, "problems", []) or [])
            if problems:
                message += " (" + "; ".join(str(p) for p in problems[:3]) + ")"
            return {"passed": False, "message": message}
    return {"passed": True, "message": ""}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "payments")), flush=True)
