"""Runs inside a learner's kernel: protect the tests from the learner's code. Not imported by the grader.

:mod:`autograder.guard` sends this file's source to a fresh kernel and calls
:func:`install` before any learner cell runs. From then on:

* **Snapshot.** :func:`install` records, while the kernel is still clean,
  everything a cell's code can bend to change how a later cell runs or what
  it reports: IPython's input and AST transformers, its compiler, event
  callbacks, display and exception hooks, the attributes of the classes on the
  execution path (IPython's shell, ipykernel's kernel and output streams,
  jupyter_client's Session), ``builtins``, the import system (``sys.path``,
  ``sys.meta_path``, ``sys.path_hooks``) and the installed ``course`` modules.
* **Audit hook.** It then installs a :func:`sys.addaudithook` hook, which no
  Python code can remove, holding the snapshot and a secret key in its
  closure. The hook refuses what would let cell code reach that closure or
  rewrite the interpreter under the tests: ``gc.get_objects`` /
  ``get_referrers`` / ``get_referents``, every ``ctypes`` call, opening
  ``/proc/<pid>/mem``, ``sys.settrace`` / ``sys.setprofile`` (line tracing can
  jump over a failing assert) and adding further audit hooks.
* **Guard event.** Before each test cell the grader runs
  ``sys.audit("autograder.guard", nonce)``. The hook puts every recorded item
  back, drops ``course`` modules that are not the installed ones, clears
  tracing, and answers in ``builtins.__autograder_guard__`` with the list of
  what it found changed and an HMAC of the nonce and that list under the
  secret key (read from a file the grader wrote, deleted before any learner
  code runs). After the test cell the grader asks again, so a change made
  *during* the test is seen too. A reply that is missing or does not verify
  means the kernel's execution machinery no longer runs the grader's code
  faithfully, and the test cell fails.

This raises the bar rather than making the kernel trustworthy: code in a
process can in principle always fight code in the same process. The sandbox
(:mod:`autograder.sandbox`) is what bounds the damage to the attacker's own
submission; this module keeps the common and the clever tricks from turning a
blank notebook into marks, and tells the instructor who tried.
"""


def install(secret_path, course_dir):
    """Snapshot the clean kernel, install the audit hook (see the module docstring); returns nothing."""
    import builtins
    import hashlib
    import hmac
    import json
    import os
    import sys
    import threading

    with open(secret_path, "rb") as f:
        secret = f.read()
    os.unlink(secret_path)

    import pkgutil

    import course
    import course.sim

    for info in pkgutil.walk_packages(course.sim.__path__, "course.sim."):
        try:
            __import__(info.name)
        except Exception:  # a module that needs more than the kernel has is left for the tests to import
            pass

    from IPython.core.compilerop import CachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.events import EventManager
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell
    from ipykernel.displayhook import ZMQShellDisplayHook
    from ipykernel.iostream import OutStream
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelbase import Kernel
    from ipykernel.zmqshell import ZMQInteractiveShell
    from jupyter_client.session import Session

    shell = get_ipython()  # noqa: F821 (the kernel provides it)
    kernel = shell.kernel
    course_dir = os.path.realpath(course_dir) + os.sep

    classes = [InteractiveShell, ZMQInteractiveShell, ExecutionResult, ExecutionInfo, TransformerManager,
               CachingCompiler, EventManager, DisplayHook, ZMQShellDisplayHook, OutStream, Kernel,
               IPythonKernel, Session, type(shell), type(kernel)]
    class_attrs = {cls: dict(vars(cls)) for cls in dict.fromkeys(classes)}
    # (Not the output streams' own attributes: IPython wraps their write() around every execution.)
    objects = [shell, kernel, kernel.session, shell.displayhook, shell.display_pub, shell.compile, shell.events]
    object_attrs = [(obj, dict(vars(obj))) for obj in objects]
    trait_values = {name: getattr(shell, name) for name in ("input_transformer_manager", "compile", "events",
                                                            "displayhook", "display_pub")}
    callbacks = {name: list(cbs) for name, cbs in shell.events.callbacks.items()}
    handlers = (dict(kernel.shell_handlers), dict(kernel.control_handlers))
    builtin_values = dict(vars(builtins))
    sys_values = {name: getattr(sys, name) for name in ("displayhook", "excepthook", "stdout", "stderr",
                                                        "stdin", "breakpointhook", "unraisablehook")}
    cwd = os.getcwd()
    # The kernel's working folder is on sys.path ('' first): a learner could put a package there.
    import_state = ([p for p in sys.path if p not in ("", cwd)], list(sys.meta_path), list(sys.path_hooks))
    course_modules = {name: module for name, module in sys.modules.items()
                      if name == "course" or name.startswith("course.")}
    real_setattr, real_delattr, real_isinstance = setattr, delattr, isinstance
    method_type = type(shell.run_cell)

    def same(a, b):
        """Identity, or the same function bound to the same object (a bound method is made anew on
        each attribute access, and ipykernel re-binds ``input`` and hooks for every execution)."""
        if a is b:
            return True
        return type(a) is method_type and type(b) is method_type and a.__func__ is b.__func__ \
            and a.__self__ is b.__self__
    forbidden_prefixes = ("ctypes.",)
    forbidden = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace", "sys.setprofile",
                 "sys.addaudithook", "sys._current_exceptions"}

    def restore():
        changed = []
        for cls, attrs in class_attrs.items():
            for name, value in attrs.items():
                if name in ("__dict__", "__weakref__"):
                    continue
                if vars(cls).get(name) is not value:
                    type.__setattr__(cls, name, value)
                    changed.append(f"{cls.__name__}.{name}")
            for name in [n for n in vars(cls) if n not in attrs]:
                type.__delattr__(cls, name)
                changed.append(f"{cls.__name__}.{name} (added)")
        for obj, attrs in object_attrs:
            current = vars(obj)
            for name in [n for n in current if n not in attrs]:
                if callable(current[name]):
                    del current[name]
                    changed.append(f"{type(obj).__name__}().{name} (added)")
            for name, value in attrs.items():
                if callable(value) and not same(current.get(name), value):
                    current[name] = value
                    changed.append(f"{type(obj).__name__}().{name}")
        for name, value in trait_values.items():
            if not same(getattr(shell, name), value):
                real_setattr(shell, name, value)
                changed.append(f"shell.{name}")
        fresh = TransformerManager()
        manager = shell.input_transformer_manager
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            if [getattr(t, "__qualname__", repr(t)) for t in getattr(manager, name)] != \
                    [getattr(t, "__qualname__", repr(t)) for t in getattr(fresh, name)]:
                changed.append(f"input transformers ({name})")
            real_setattr(manager, name, getattr(fresh, name))
        if shell.input_transformers_post:
            changed.append("input transformers (post)")
            shell.input_transformers_post = []
        if shell.ast_transformers:
            changed.append("AST transformers")
            shell.ast_transformers = []
        for name, cbs in callbacks.items():
            current = shell.events.callbacks.get(name, [])
            if current != cbs:
                changed.append(f"event callbacks ({name})")
                current[:] = cbs
        if (dict(kernel.shell_handlers), dict(kernel.control_handlers)) != handlers:
            changed.append("kernel message handlers")
            kernel.shell_handlers.clear()
            kernel.shell_handlers.update(handlers[0])
            kernel.control_handlers.clear()
            kernel.control_handlers.update(handlers[1])
        current_builtins = vars(builtins)
        for name, value in builtin_values.items():
            if name in ("_", "__", "___") or name.startswith("__autograder"):
                continue
            if not same(current_builtins.get(name), value):
                current_builtins[name] = value
                changed.append(f"builtins.{name}")
        for name, value in sys_values.items():
            if not same(getattr(sys, name), value):
                real_setattr(sys, name, value)
                changed.append(f"sys.{name}")
        path, meta_path, path_hooks = import_state
        if [p for p in sys.path if p not in ("", cwd)] != path:  # (the working folder's entry always goes)
            changed.append("sys.path")
        sys.path[:] = path
        if sys.meta_path != meta_path or sys.path_hooks != path_hooks:
            changed.append("import system (sys.meta_path / sys.path_hooks)")
        sys.meta_path[:] = meta_path
        sys.path_hooks[:] = path_hooks
        sys.path_importer_cache.clear()
        for name in [n for n in sys.modules if n == "course" or n.startswith("course.")]:
            module = sys.modules[name]
            if course_modules.get(name) is module:
                continue
            origin = os.path.realpath(getattr(module, "__file__", None) or "")
            if not origin.startswith(course_dir):
                del sys.modules[name]
                changed.append(f"module {name} (not the installed course package)")
        for name, module in course_modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"module {name} (replaced)")
        if threading._trace_hook is not None or threading._profile_hook is not None:
            changed.append("thread tracing")
        threading._trace_hook = None
        threading._profile_hook = None
        return sorted(set(changed))

    def answer(nonce):
        changed = restore()
        body = json.dumps({"nonce": nonce, "changed": changed}, sort_keys=True)
        mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
        vars(builtins)["__autograder_guard__"] = json.dumps({"body": body, "mac": mac})

    def hook(event, args):
        if event == "autograder.guard":
            answer(str(args[0]) if args else "")
            return
        if event in forbidden or event.startswith(forbidden_prefixes):
            raise RuntimeError(f"the grader does not allow {event} while grading")
        if event == "open" and args and real_isinstance(args[0], str) and args[0].startswith("/proc/") \
                and args[0].rstrip("/").endswith(("/mem", "/environ")):
            raise PermissionError(f"the grader does not allow opening {args[0]} while grading")

    sys.settrace(None)
    sys.setprofile(None)
    sys.addaudithook(hook)
    del real_delattr
