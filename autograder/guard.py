"""nbgrader's Execute step, hardened: the kernel is sandboxed, the tests are guarded, the verdict is ours.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` preprocessor in
``autograde`` (:func:`autograder.config.apply` puts it there). It is
nbgrader's own ``Execute`` (cell timeout, interrupt on timeout, errors
recorded from the reply) plus:

* **The sandbox.** The kernel is started by
  :class:`autograder.kernel.SandboxedKernelManager` when :attr:`sandbox` is
  ``"required"``, or ``"auto"`` and :func:`autograder.sandbox.probe` passes.
* **The guard.** Before the first cell runs, :mod:`autograder.kernel_guard`
  is installed in the kernel (its snapshot is taken before any learner code).
  Around every autograded test cell the grader raises the guard event: before
  it, everything the learner's cells changed in the machinery is put back;
  after it, anything changed during the test is seen. Each answer is checked
  against an HMAC under a per-kernel secret. What was found changed is
  recorded in the cell's metadata (``autograder.tampered``) for the
  instructor's report; a missing or forged answer fails the cell.
* **The verdict.** nbgrader scores a test cell from its outputs, and a number
  shown as the cell's result (``execute_result``) counts as partial credit
  before any error is read: a learner's hook that shows ``1.0`` in every test
  cell got full marks. Here a test cell keeps only its text streams and its
  error, so its score depends on one thing, decided on the grader's side:
  whether the test raised (the kernel's reply status, which nbgrader turns
  into an error output when the traceback was hidden).
* **Output caps.** A cell's outputs are cut at :attr:`max_cell_output`
  characters and the notebook's at :attr:`max_notebook_output`, with a note
  saying so; the rest never reaches the notebook, the gradebook or feedback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer

from . import sandbox

#: The metadata key (under ``cell.metadata``) where the guard's findings go.
META = "autograder"
GUARD_SOURCE = Path(__file__).with_name("kernel_guard.py")


def is_test_cell(cell) -> bool:
    """An autograded test cell: an nbgrader grade cell that is not an answer (solution) cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def guard_error(message: str) -> NotebookNode:
    """The error output a test cell gets when the grader could not run it faithfully."""
    return NotebookNode(output_type="error", ename="GraderGuardError", evalue=message,
                        traceback=[f"GraderGuardError: {message}"])


def secret_directories(notebook_folder) -> list[Path]:
    """What learner code must not see beyond :data:`autograder.sandbox.HIDDEN_ROOTS`: the notebook's
    course (the nearest folder above it with ``nbgrader_config.py`` or ``gradebook.db``, else the
    notebook's own folder), the source assignments and the repository they are in."""
    from .assignments import assignments_dir

    found = [assignments_dir()]
    repository = sandbox.course_package().parent
    if (repository / "pyproject.toml").is_file() or (repository / "assignments").is_dir():
        found.append(repository)
    here = Path(notebook_folder).resolve()
    course = next((d for d in [here, *here.parents] if d != Path("/") and
                   ((d / "nbgrader_config.py").is_file() or (d / "gradebook.db").is_file())), here)
    found.append(course)
    return found


class GuardedExecute(Execute):
    """nbgrader's Execute with the sandbox, the guard, our verdict and output caps (module docstring)."""

    sandbox = Enum(["auto", "required", "off"], default_value="auto",
                   help="Run the kernel in the sandbox: 'required' (fail if this machine cannot), 'auto' "
                        "(when it can), or 'off'.").tag(config=True)
    max_cell_output = Integer(100_000, help="Characters of output kept per cell.").tag(config=True)
    max_notebook_output = Integer(1_000_000, help="Characters of output kept per notebook.").tag(config=True)
    guard_timeout = Integer(15, help="Seconds the kernel has to answer the guard (it runs no learner code); "
                                     "a kernel that does not is stopped.").tag(config=True)

    # -- the kernel ------------------------------------------------------------------------------

    def use_sandbox(self) -> bool:
        """Whether this run's kernel goes in the sandbox (raises if it must and cannot)."""
        if self.sandbox == "off":
            return False
        if self.sandbox == "required":
            sandbox.require()
            return True
        return sandbox.probe() is None

    def create_kernel_manager(self):
        if not self.use_sandbox():
            return super().create_kernel_manager()
        from .kernel import SandboxedKernelManager

        self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        km.hide = list(km.hide) + [str(p) for p in self.secret_directories()]
        return km

    def secret_directories(self) -> list[Path]:
        """What the kernel must not see beyond :data:`autograder.sandbox.HIDDEN_ROOTS` (:func:`secret_directories`)."""
        return secret_directories(self.resources.get("metadata", {}).get("path") or os.getcwd())

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self._output_used = 0
        self._truncated_cells = set()
        await self._install_guard()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _install_guard(self) -> None:
        self._secret = secrets.token_bytes(32)
        workdir = getattr(self.km, "workdir", None)
        folder = Path(workdir) if workdir is not None else Path(self.resources.get("metadata", {}).get("path")
                                                                 or os.getcwd())
        secret_path = folder / f".guard-{secrets.token_hex(8)}"
        secret_path.write_bytes(self._secret)
        if workdir is not None and os.geteuid() == 0:
            os.chown(secret_path, sandbox.sandbox_uid(), sandbox.sandbox_uid())
        course_dir = str(sandbox.course_package())
        code = (GUARD_SOURCE.read_text(encoding="utf-8")
                + f"\ninstall({str(secret_path)!r}, {course_dir!r})\ndel install\n")
        reply = await self._run_silently(code, timeout=max(60, self.guard_timeout))
        if secret_path.exists():  # the kernel could not read it: the guard is not installed
            secret_path.unlink()
        self._guard_installed = reply is not None and reply["content"].get("status") == "ok"
        if not self._guard_installed:
            detail = "" if reply is None else f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
            self.log.error("The grader could not install its guard in the kernel (%s)", detail)

    async def _run_silently(self, code: str, user_expressions: dict | None = None, *, timeout: float | None = None):
        """Run grader code in the kernel, outside the history; its reply, or None (a dead kernel).

        A kernel that does not answer within ``timeout`` (default :attr:`guard_timeout`) is still busy
        with a cell it would not let go of (an interrupt it ignored): it is stopped, and the notebook's
        execution ends with ``DeadKernelError`` instead of every later cell waiting out its timeout.
        """
        import asyncio

        from nbclient.exceptions import DeadKernelError

        msg_id = await run_sync_safe(self.kc.execute(code, silent=True, store_history=False,
                                                     user_expressions=user_expressions or {}))
        try:
            return await asyncio.wait_for(self.async_wait_for_reply(msg_id), timeout or self.guard_timeout)
        except asyncio.TimeoutError:
            self.log.error("The kernel stopped responding; stopping it")
            await run_sync_safe(self.km.shutdown_kernel(now=True))
            raise DeadKernelError("the kernel stopped responding: a cell ran past its time limit and would not "
                                  "stop when interrupted") from None
        except DeadKernelError:
            raise
        except Exception as error:  # a dead kernel: the cell's own execution will say so
            self.log.error("The grader's guard got no reply: %s", error)
            return None

    async def _guard(self) -> tuple[bool, list[str]]:
        """Raise the guard event; (answer verified, what was found changed)."""
        if not getattr(self, "_guard_installed", False):
            return False, []
        nonce = secrets.token_hex(16)
        reply = await self._run_silently(f"__import__('sys').audit('autograder.guard', {nonce!r})",
                                         {"g": "__import__('builtins').__dict__.pop('__autograder_guard__', '')"})
        try:
            value = reply["content"]["user_expressions"]["g"]["data"]["text/plain"]
            answer = json.loads(_literal(value))
            body = answer["body"]
            expected = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()
            data = json.loads(body)
            if not hmac.compare_digest(expected, answer["mac"]) or data["nonce"] != nonce:
                return False, []
            return True, list(data["changed"])
        except (TypeError, KeyError, ValueError):
            return False, []

    # -- cells -------------------------------------------------------------------------------------

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if not is_test_cell(cell) or not cell.source.strip():
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            if cell.cell_type == "code" and any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                await self._run_silently("pass")  # still busy after the interrupt? then it is stopped
            return cell
        before_ok, before = await self._guard()
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        after_ok, after = await self._guard()
        # The verdict: text streams and the error only (no execute_result or display "partial credit").
        cell.outputs = [o for o in cell.outputs if o.output_type in ("stream", "error")]
        if before or after:
            cell.metadata.setdefault(META, {})["tampered"] = sorted(set(before) | set(after))
        if after:
            cell.outputs.append(guard_error("the code this test called changed the grader's machinery while "
                                            "the test ran (" + ", ".join(sorted(after)[:3]) + "), so the "
                                            "test cannot count"))
        elif not (before_ok and after_ok):
            cell.outputs.append(guard_error("the grader could not check that this test ran as written "
                                            "(the kernel's execution machinery did not answer faithfully)"))
            cell.metadata.setdefault(META, {})["tampered"] = ["the grader's guard got no faithful answer"]
        return cell

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _output_size(msg.get("content", {}))
        cell_used = sum(_output_size(o) for o in outs)
        used = getattr(self, "_output_used", 0)
        if cell_used + size > self.max_cell_output or used + size > self.max_notebook_output:
            truncated = getattr(self, "_truncated_cells", set())
            if cell_index not in truncated:
                self._truncated_cells = truncated | {cell_index}
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n[output cut here: the grader keeps at most "
                                              f"{self.max_cell_output:,} characters per cell and "
                                              f"{self.max_notebook_output:,} per notebook]\n"))
            return None
        self._output_used = used + size
        return super().output(outs, msg, display_id, cell_index)


def _output_size(content) -> int:
    """Characters in an output (a message's content or an nbformat output)."""
    if not isinstance(content, dict):
        return 0
    total = len(str(content.get("text", "") or ""))
    for value in (content.get("data") or {}).values():
        total += len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    total += len(str(content.get("evalue", "") or "")) + sum(len(str(t)) for t in content.get("traceback") or [])
    return total


def _literal(text: str) -> str:
    import ast

    return ast.literal_eval(text)


async def run_sync_safe(value):
    """Await ``value`` if it is awaitable (the async kernel client), else return it."""
    import inspect

    return await value if inspect.isawaitable(value) else value
