"""A pool of worker processes that run one task at a time each, with a wall-clock limit per task.

Each worker is ``python -m autograder.workers``: it reads tasks as JSON lines
on stdin and answers each with one JSON line. A task names the function to
run (``"function": "package.module:name"``) and carries its arguments; the
function returns a JSON-serialisable dict. The answer channel is the worker's
original stdout, which it moves to a private file descriptor at start-up and
then points fd 1 at stderr, so nothing else it runs (a Jupyter kernel, a
learner's ``os.write(1, ...)``) can corrupt the channel.

:meth:`WorkerPool.results` hands out tasks as workers become free and
yields ``(key, result)`` as tasks finish, in completion order, so the caller
can do its own serial work (recording grades) while the others keep running,
and submit follow-up tasks as results come in. A task that outlives its
deadline has its worker and the worker's children (the kernel) killed, and
yields ``{"ok": False, "reason": "timed out ..."}``; a worker that dies
yields ``{"ok": False, "reason": "the worker process died ..."}``.
Either way a fresh worker takes its place, so one bad submission never costs
the others their grades. (``concurrent.futures.ProcessPoolExecutor`` cannot
kill one task, and a crashed worker breaks the whole pool.)
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Iterator


def _kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (psutil if available, else the process alone)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            parent = psutil.Process(pid)
            victims = parent.children(recursive=True) + [parent]
        except psutil.NoSuchProcess:
            return
        for proc in victims:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        return
    try:  # without psutil: an orphaned ipykernel polls for its parent (JPY_PARENT_PID) and exits
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Worker:
    """One worker process and the bytes it has sent so far."""

    def __init__(self, log_path: Path | None, env: dict):
        self.log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.workers"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.buffer = b""
        self.task: tuple[object, dict, float, float | None] | None = None  # key, task, started, ends at

    def send(self, key, task: dict, deadline: float | None) -> None:
        started = time.monotonic()
        self.task = (key, task, started, None if deadline is None else started + deadline)
        self.proc.stdin.write((json.dumps(task) + "\n").encode())
        self.proc.stdin.flush()

    def read_results(self) -> list[dict] | None:
        """Complete answers received; None at end of file (the worker died)."""
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self, kill: bool = False) -> None:
        if kill:
            _kill_tree(self.proc.pid)
        else:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_tree(self.proc.pid)
            self.proc.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()


class WorkerPool:
    """``size`` worker processes; use as a context manager. ``log_path``: where workers' stderr goes.

    :meth:`submit` queues a task under a key (any hashable) with an optional
    deadline in seconds; :meth:`results` yields ``(key, result)`` as tasks
    finish, until none is queued or running, and tasks submitted while it
    runs (say, a follow-up for a result just received) are picked up too.
    :meth:`run` is the two together for a fixed list.
    """

    def __init__(self, size: int, *, log_path: Path | None = None, env: dict | None = None):
        self.size = max(1, int(size))
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        bin_dir = os.path.dirname(sys.executable)
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.workers: list[_Worker] = []
        self.pending: deque = deque()

    def __enter__(self) -> "WorkerPool":
        self.workers = [_Worker(self.log_path, self.env) for _ in range(self.size)]
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:  # ask them all to finish (end of input) before waiting for any
            for worker in self.workers:
                try:
                    worker.proc.stdin.close()
                except OSError:
                    pass
        for worker in self.workers:
            worker.stop(kill=exc[0] is not None)
        self.workers = []

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop(kill=True)
        fresh = _Worker(self.log_path, self.env)
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def _dispatch(self) -> None:
        """Give each idle worker the next pending task."""
        for worker in list(self.workers):
            while worker.task is None and self.pending:
                key, task, deadline = self.pending.popleft()
                try:
                    worker.send(key, task, deadline)
                except (BrokenPipeError, OSError):  # it died while idle: replace it, retry the task
                    self.pending.appendleft((key, task, deadline))
                    worker = self._replace(worker)

    def submit(self, key, task: dict, *, deadline: float | None = None) -> None:
        """Queue ``task``; it starts as soon as a worker is free (at once if one is idle)."""
        self.pending.append((key, task, deadline))
        self._dispatch()

    def run(self, tasks: list[dict], *, deadline: float | None = None) -> Iterator[tuple[int, dict]]:
        """Submit every task (key: its index) and return :meth:`results`."""
        for index, task in enumerate(tasks):
            self.submit(index, task, deadline=deadline)
        return self.results()

    def results(self) -> Iterator[tuple[object, dict]]:
        """Yield ``(key, result)`` as tasks finish; free workers get their next task before each yield."""
        while self.pending or any(w.task is not None for w in self.workers):
            self._dispatch()
            busy = [w for w in self.workers if w.task is not None]
            ends = [w.task[3] for w in busy if w.task[3] is not None]
            wait = max(0.0, min(ends) - time.monotonic()) if ends else None
            with selectors.DefaultSelector() as selector:
                for worker in busy:
                    selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                ready = [key.data for key, _ in selector.select(wait)]
            finished: list[tuple[object, dict]] = []
            for worker in ready:
                answers = worker.read_results()
                if answers is None:
                    code = worker.proc.poll()
                    finished.append((worker.task[0], {"ok": False, "reason":
                                     f"the worker process died (exit status {code}) while grading"}))
                    self._replace(worker)
                elif answers:
                    finished.append((worker.task[0], answers[-1]))
                    worker.task = None
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.task is not None and worker.task[3] is not None and now >= worker.task[3]:
                    key, _, started, _ = worker.task
                    finished.append((key, {"ok": False, "reason":
                                     f"timed out: still running after {now - started:.0f} s, stopped"}))
                    self._replace(worker)
            self._dispatch()
            yield from finished


# -- the worker side -----------------------------------------------------------------------


def _call(task: dict) -> dict:
    module, name = task["function"].split(":")
    function = getattr(importlib.import_module(module), name)
    return function(**task.get("kwargs", {}))


def serve() -> None:
    """The worker's main loop: tasks in on stdin, one JSON answer line each on the private channel."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else written to stdout goes to the log
    sys.stdout = sys.stderr
    try:  # warm up: import nbgrader while the parent is still handing out work
        from .nbgrader_setup import prepare, skip_slow_optional_imports

        skip_slow_optional_imports()
        prepare()
        import nbgrader.apps  # noqa: F401
    except Exception:  # pragma: no cover - reported by the first task instead
        traceback.print_exc()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = _call(json.loads(line))
        except Exception as error:
            traceback.print_exc()
            result = {"ok": False, "reason": f"worker error: {type(error).__name__}: {error}"}
        channel.write(json.dumps(result) + "\n")
        channel.flush()
    # End of input: nothing is pending (each task's files are closed), so skip the interpreter's
    # teardown of everything nbgrader imported, which takes about half a second.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    serve()
