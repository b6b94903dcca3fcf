"""The grading kernel: a forked process that runs one student notebook, fenced in.

What the fence does, and why it can hold although student code shares the process:
- the verdict is not made here. ``check`` only runs the student's function on the cases
  the judge sent and ships the raw answers back (``wire``); the judge, another process,
  compares them with torch. Patching numpy, ``check`` or AssertionError changes nothing
  the judge sees, and printing "passed" is not read by anyone.
- torch is not loaded here. ``import torch`` gives a stand-in whose every function raises
  and reports "torch-used"; importing the real one is refused by an audit hook (PEP 578),
  which Python code cannot remove. The same hook refuses processes, network, native
  code loading, signals, reading the course's answers or arrays from disk, and writing
  outside the kernel's own folder — each reported as a flag for the cell that tried.
- limits: address space, processes (as an unprivileged user when grading runs as root),
  file size, CPU; the coordinator kills a cell that outlives its timeout.
"""
from __future__ import annotations

import builtins
import json
import os
import resource
import sys
import types
from dataclasses import dataclass, field

from . import api, exercise, paths, runtime, wire

BLOCKED_PACKAGES = frozenset({"torch", "torchvision", "torchaudio", "functorch", "jax", "jaxlib",
                              "tensorflow", "keras"})
ARRAY_SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".h5", ".safetensors")
PROCESS_EVENTS = frozenset({"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                            "os.forkpty", "subprocess.Popen", "pty.spawn", "os.startfile"})
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
                           "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.call_function",
                           "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.__new__", "urllib.Request"})
PATH_EVENTS = {"os.remove": 0, "os.rmdir": 0, "os.rename": 0, "os.replace": 0, "os.symlink": 1,
               "os.link": 1, "os.truncate": 0, "os.chmod": 0, "os.chown": 0, "os.utime": 0,
               "os.mkdir": 0, "shutil.rmtree": 0, "shutil.move": 0, "os.chdir": None,
               "os.chroot": None, "os.setuid": None, "os.setgid": None}
TORCH_SUBMODULES = frozenset({"nn", "functional", "autograd", "linalg", "fft", "special", "utils",
                              "modules", "init"})


@dataclass
class Step:
    """One cell to run: the student's code, or one of the course's test cells."""

    kind: str  # "test", "answer" (a solution cell), "book" (an unmodified cell of the text), "student"
    source: str
    grade_id: str = ""
    checks: list = field(default_factory=list)  # (name, hidden) a test cell must report


@dataclass
class Request:
    plan: list
    cases: dict  # "name|hidden" -> list[Case]
    start: int
    skip: set
    workdir: str
    uid: int | None
    gid: int | None
    memory_bytes: int
    max_processes: int
    cpu_seconds: int
    cgroup: str | None = None  # a pids cgroup the kernel joins (when it stays root)


# Taken at import, before any student code: test cells always get the real ``check``.
_CHECK = api.check


class TorchUnavailable(RuntimeError):
    pass


class _Kernel:
    """State shared by the hook, the torch stand-in and ``check``: where to report."""

    fd = -1
    step = -1
    workdir = ""


def _report(kind: str, detail: str) -> None:
    try:
        wire.send(_Kernel.fd, {"event": "flag", "kind": kind, "detail": detail[:300],
                               "step": _Kernel.step})
    except OSError:
        pass


class _TorchStandIn(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        name = f"{self.__name__}.{attr}"
        if attr in TORCH_SUBMODULES:
            module = sys.modules.get(name) or _TorchStandIn(name)
            sys.modules[name] = module
            return module
        _report("torch-used", name)
        raise TorchUnavailable(f"{name}: torch is not available while grading — "
                               "write this with NumPy")


def _install_torch_stand_in() -> None:
    for name in ("torch", "torch.nn", "torch.nn.functional"):
        module = _TorchStandIn(name)
        module.__path__ = []
        sys.modules[name] = module
    sys.modules["torch"].nn = sys.modules["torch.nn"]
    sys.modules["torch.nn"].functional = sys.modules["torch.nn.functional"]


def _path_of(value) -> str | None:
    if isinstance(value, int):
        return None
    try:
        return os.path.realpath(os.fsdecode(value))
    except (TypeError, ValueError):
        return None


def _inside(path: str, folder) -> bool:
    folder = str(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _readable(path: str) -> bool:
    root = paths.COURSE_ROOT
    if _inside(path, root / "data"):
        return True
    if path.endswith(ARRAY_SUFFIXES) and not _inside(path, root / ".venv") and not _inside(path, sys.prefix):
        return False  # precomputed answers: the hidden cases are drawn at grading time anyway
    if _inside(path, root):
        return any(_inside(path, root / ok) for ok in (".venv", "autograder"))
    return True


def _writable(path: str) -> bool:
    return _inside(path, _Kernel.workdir) or path == "/dev/null"


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _audit(event: str, args) -> None:
    if event == "import":
        if args and isinstance(args[0], str) and args[0].split(".")[0] in BLOCKED_PACKAGES:
            _report("torch-used", f"import {args[0]}")
            raise ImportError(f"{args[0]} is not available while grading: write this with NumPy")
    elif event == "open":
        path = _path_of(args[0])
        if path is None:
            return
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = bool(flags & _WRITE_FLAGS) or any(c in mode for c in "wax+")
        if writing and not _writable(path):
            _report("tamper", f"writes {path}")
            raise PermissionError(f"grading: writing outside your folder is not allowed ({path})")
        if not writing and not _readable(path):
            kind = "loads-arrays" if path.endswith(ARRAY_SUFFIXES) else "tamper"
            _report(kind, f"reads {path}")
            raise PermissionError(f"grading: reading {path} is not allowed")
    elif event in PROCESS_EVENTS:
        _report("process", event)
        raise PermissionError(f"grading: {event} is not allowed")
    elif event in SIGNAL_EVENTS or event in NATIVE_EVENTS:
        _report("tamper", event)
        raise PermissionError(f"grading: {event} is not allowed")
    elif event in NETWORK_EVENTS:
        _report("network", event)
        raise PermissionError(f"grading: {event} is not allowed")
    elif event in PATH_EVENTS:
        index = PATH_EVENTS[event]
        path = None if index is None or len(args) <= index else _path_of(args[index])
        if index is None or path is None or not _writable(path):
            _report("tamper", f"{event} {path or ''}".strip())
            raise PermissionError(f"grading: {event} is not allowed here")


class _Session:
    """``runtime.session`` in the grading kernel: run the student's function, ship answers."""

    def __init__(self, cases):
        self.cases = cases

    def submit(self, name, fn, hidden):
        cases = self.cases.get(f"{name}|{int(bool(hidden))}")
        if cases is None:
            return
        ex = exercise.get(name)
        blobs, outcomes = [], []
        for case in cases:
            outcome = api.run_student(ex, fn, case)
            if outcome.error == "MemoryError":
                _report("memory", f"{name} ran out of memory")
            outcomes.append({"error": outcome.error, "message": outcome.message,
                             "where": outcome.where,
                             "value": wire.encode_value(outcome.value, blobs)})
        wire.send(_Kernel.fd, {"event": "report", "name": name, "hidden": bool(hidden),
                               "step": _Kernel.step, "outcomes": outcomes}, blobs)


def _snapshot() -> dict:
    """References to what student code must not replace: numpy, builtins, our package."""
    import numpy

    modules = [numpy, numpy.linalg, numpy.random, numpy.lib.stride_tricks, builtins, json]
    modules += [m for n, m in sys.modules.items() if n.split(".")[0] == "autograder"]
    keep = {"__import__", "__build_class__"}
    return {(m.__name__, k): v for m in modules for k, v in list(vars(m).items())
            if not k.startswith("__") or k in keep}


def _tampered(snapshot) -> list:
    changed = []
    for (module_name, attr), original in snapshot.items():
        module = sys.modules.get(module_name)
        if module is None or getattr(module, attr, original) is not original:
            changed.append(f"{module_name}.{attr}")
    return changed


def _limit(request: Request) -> None:
    def cap(which, value):
        try:
            soft, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass

    cap(resource.RLIMIT_AS, request.memory_bytes)
    cap(resource.RLIMIT_CPU, request.cpu_seconds)
    cap(resource.RLIMIT_FSIZE, 64 * 2**20)
    cap(resource.RLIMIT_CORE, 0)
    if request.cgroup:
        with open(os.path.join(request.cgroup, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    if request.uid is not None:
        os.setgroups([])
        os.setgid(request.gid)
        cap(resource.RLIMIT_NPROC, request.max_processes)
        os.setuid(request.uid)


def child_main(request: Request, fd: int) -> None:
    """Runs in the forked kernel; never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        os.chdir(request.workdir)
        os.environ.update(HOME=request.workdir, MPLCONFIGDIR=request.workdir, MPLBACKEND="Agg")
        _Kernel.fd, _Kernel.workdir = fd, os.path.realpath(request.workdir)
        _limit(request)
        _install_torch_stand_in()
        runtime.session = _Session(request.cases)
        snapshot = _snapshot()
        sys.addaudithook(_audit)
        _run_plan(request, snapshot)
        wire.send(fd, {"event": "done"})
    except BaseException:  # noqa: BLE001 - the kernel ends here whatever happened
        pass
    os._exit(0)


def _clean(source: str) -> str:
    """IPython's magics and shell escapes mean nothing here; keep line numbers."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _run_plan(request: Request, snapshot) -> None:
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    reported = set()
    for index, step in enumerate(request.plan):
        if index in request.skip or (index < request.start and step.kind == "test"):
            continue
        _Kernel.step = index
        wire.send(_Kernel.fd, {"event": "start", "step": index})
        if step.kind == "test":
            namespace["check"] = _CHECK
        status = "ok"
        try:
            exec(compile(_clean(step.source), f"<cell {index}>", "exec"), namespace)  # noqa: S102
        except SystemExit:
            status = "SystemExit"
            _report("exit", "sys.exit() or exit()")
        except KeyboardInterrupt:
            status = "KeyboardInterrupt"
        except MemoryError:
            status = "MemoryError"
            _report("memory", "MemoryError")
        except BaseException as err:  # noqa: BLE001 - a student's error is data here
            status = f"{type(err).__name__}: {str(err)[:200]}"
        changed = [name for name in _tampered(snapshot) if name not in reported]
        if changed:
            reported.update(changed)
            _report("tamper", "replaced " + ", ".join(changed[:5]))
        if "matplotlib.pyplot" in sys.modules:
            try:
                sys.modules["matplotlib.pyplot"].close("all")
            except Exception:  # noqa: BLE001
                pass
        wire.send(_Kernel.fd, {"event": "end", "step": index, "status": status})
