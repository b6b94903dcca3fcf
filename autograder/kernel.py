"""The grading kernel: the process that runs one student notebook, inside its sandbox.

It is forked by the kernel factory (``zygote``) inside a bubblewrap sandbox (``sandbox``),
in namespaces of its own; the factory never held answers, submissions or hidden cases,
and the filesystem holds only the Python installation, NumPy, matplotlib, this package
and ``data/``. So there is nothing secret to
find here. What remains in this process is the second layer, which names what was tried:
- the verdict is not made here. ``check`` only runs the student's function on the cases
  the coordinator sent and ships the raw answers back (``wire``); the coordinator judges
  them against torch. Patching numpy, ``check`` or AssertionError changes nothing the
  judge sees.
- torch is not installed here. ``import torch`` gives a stand-in whose every function
  raises and reports "torch-used"; an audit hook (PEP 578) names imports of torch and of
  any library other than NumPy, matplotlib and the standard library ("other-library"),
  processes, network, native code, signals and writes outside the scratch folder.
"""
from __future__ import annotations

import builtins
import json
import os
import sys
import types
from dataclasses import dataclass, field

from . import api, exercise, runtime, wire

BLOCKED_PACKAGES = frozenset({"torch", "torchvision", "torchaudio", "functorch", "jax", "jaxlib",
                              "tensorflow", "keras"})
ARRAY_SUFFIXES = (
    ".npy",
    ".npz",
    ".pt",
    ".pth",
    ".pkl",
    ".pickle",
    ".joblib",
    ".h5",
    ".safetensors",
)
PROCESS_EVENTS = frozenset({"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                            "os.forkpty", "subprocess.Popen", "pty.spawn", "os.startfile"})
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
                           "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.call_function",
                           "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr"})
NETWORK_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                            "socket.getaddrinfo", "socket.__new__", "urllib.Request"})
# Standard-library modules no answer needs, and what importing one tries to do.
NAMED_MODULES = {**dict.fromkeys(("subprocess", "multiprocessing", "_posixsubprocess", "pty",
                                  "concurrent", "_multiprocessing"), "process"),
                 **dict.fromkeys(("signal", "_signal", "ctypes", "_ctypes", "sqlite3", "_sqlite3",
                                  "mmap", "resource", "fcntl"), "tamper"),
                 **dict.fromkeys(("socket", "_socket", "ssl", "http", "urllib", "ftplib",
                                  "smtplib", "xmlrpc"), "network")}
PATH_EVENTS = {
    "os.remove": 0,
    "os.rmdir": 0,
    "os.rename": (0, 1),
    "os.replace": (0, 1),
    "os.symlink": 1,
    "os.link": 1,
    "os.truncate": 0,
    "os.chmod": 0,
    "os.chown": 0,
    "os.utime": 0,
    "os.mkdir": 0,
    "shutil.rmtree": 0,
    "shutil.move": 0,
    "os.chdir": None,
    "os.chroot": None,
    "os.setuid": None,
    "os.setgid": None,
}
TORCH_SUBMODULES = frozenset({"nn", "functional", "autograd", "linalg", "fft", "special", "utils",
                              "modules", "init"})


@dataclass
class Step:
    """One cell to run: the student's code, or one of the course's test cells."""

    # "test", "answer" (a solution cell), "book" (an unmodified cell of the text), "student"
    kind: str
    source: str
    grade_id: str = ""
    checks: list = field(default_factory=list)  # (name, hidden) a test cell must report


@dataclass
class Request:
    """What the coordinator sends a kernel (pickled: that direction is trusted)."""

    plan: list
    cases: dict  # "name|hidden" -> list[Case]
    start: int
    skip: set


# Taken at import, before any student code: test cells always get the real ``check``.
_CHECK = api.check


class TorchUnavailable(RuntimeError):
    pass


class _Kernel:
    """State shared by the hook, the torch stand-in and ``check``: where to report."""

    fd = -1
    step = -1
    workdir = ""
    course_steps: frozenset = frozenset()  # the course's own cells: exempt from other-library
    allowed: frozenset = frozenset()  # top-level modules an answer may import


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


# What the sandbox's filesystem holds; a read elsewhere looks for what is not there.
READABLE_ROOTS = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/dev", "/proc/self", "/opt/lfs",
                  sys.base_prefix, sys.prefix)
# Interpreter introspection an answer never needs (how memory and hooks are searched).
INTROSPECTION_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents",
                                  "sqlite3.connect", "sys.setprofile", "sys.settrace",
                                  "sys._current_frames", "cpython.PyInterpreterState_Clear"})


def _readable(path: str) -> bool:
    """Nothing secret is in the sandbox: reads elsewhere, and arrays from disk, are named."""
    if path.endswith(ARRAY_SUFFIXES):
        return any(_inside(path, folder) for folder in sys.path if folder.startswith("/"))
    return (_inside(path, _Kernel.workdir) or _inside(path, f"/proc/{os.getpid()}")
            or any(_inside(path, root) for root in READABLE_ROOTS))


def _writable(path: str) -> bool:
    return _inside(path, _Kernel.workdir) or path == "/dev/null"


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _student_frame() -> bool:
    """Is a student's cell on the stack (and not only the course's own cells)?"""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<cell ") and name.endswith(">"):
            try:
                if int(name[6:-1]) not in _Kernel.course_steps:
                    return True
            except ValueError:
                return True
        frame = frame.f_back
    return False


def _caller_is_student() -> bool:
    """Is the code that raised this event a student's cell (one frame above the hook)?"""
    name = sys._getframe(3).f_code.co_filename
    return name.startswith("<cell ") and _student_frame()


class _Hook:
    busy = False  # the hook's own calls raise events too (sys._getframe): no recursion


def _audit(event: str, args) -> None:
    if _Hook.busy:
        return
    _Hook.busy = True
    try:
        _audit_event(event, args)
    finally:
        _Hook.busy = False


def _refuse_import(name: str) -> None:
    """What an import of ``name`` by student code earns: a flag and an ImportError."""
    top = name.split(".")[0]
    if top in BLOCKED_PACKAGES:
        _report("torch-used", f"import {name}")
        raise ImportError(f"{name} is not available while grading: write this with NumPy")
    if top in NAMED_MODULES and _student_frame():
        _report(NAMED_MODULES[top], f"import {top}")
        raise ImportError(f"{top} is not available while grading")
    if top not in _Kernel.allowed and _student_frame():
        _report("other-library", f"import {top}")
        raise ImportError(f"{top}: answers use NumPy and the standard library only")


class _ImportWatch:
    """First on sys.meta_path: sees imports that raise no audit event (importlib's own)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if not _Hook.busy:
            _Hook.busy = True
            try:
                _refuse_import(name)
            finally:
                _Hook.busy = False
        return None


_IMPORT = builtins.__import__


def _watched_import(name, globals=None, locals=None, fromlist=(), level=0):
    """The import statement, which raises no event for a module already loaded
    (``import autograder.checks.conv`` from an answer)."""
    if level == 0 and isinstance(name, str) and not _Hook.busy:
        _Hook.busy = True
        try:
            caller = sys._getframe(1).f_code.co_filename
            top = name.split(".")[0]
            # torch is left to its stand-in, which names the call that uses it.
            if caller.startswith("<cell ") and top not in BLOCKED_PACKAGES:
                _refuse_import(name)
        finally:
            _Hook.busy = False
    return _IMPORT(name, globals, locals, fromlist, level)


def _audit_event(event: str, args) -> None:
    if event == "sys._getframe" or event == "sys._getframemodulename":
        if _caller_is_student():
            _report("tamper", "inspects the interpreter's frames")
    elif event in INTROSPECTION_EVENTS:
        if _student_frame():
            _report("tamper", f"{event}: looks into the interpreter")
            raise PermissionError(f"grading: {event} is not allowed")
    elif event == "object.__setattr__":
        if (
            len(args) > 1
            and args[1] in ("__code__", "__globals__", "__defaults__")
            and _student_frame()
        ):
            _report("tamper", f"replaces a function's {args[1]}")
            raise PermissionError("grading: replacing a function's code is not allowed")
    elif event == "import":
        if args and isinstance(args[0], str):
            _refuse_import(args[0])
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
    elif (
        event in ("os.link", "os.symlink")
        and args
        and _path_of(args[0])
        and not _readable(_path_of(args[0]))
    ):
        _report("tamper", f"{event} {_path_of(args[0])}")
        raise PermissionError(f"grading: {event} is not allowed here")
    elif event in PATH_EVENTS:
        indices = PATH_EVENTS[event]
        indices = () if indices is None else (indices if isinstance(indices, tuple) else (indices,))
        paths = [_path_of(args[i]) if len(args) > i else None for i in indices]
        if not paths or any(path is None or not _writable(path) for path in paths):
            shown = " ".join(path for path in paths if path)
            _report("tamper", f"{event} {shown}".strip())
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


def allowed_modules() -> frozenset:
    """Top-level modules an answer may import: the standard library, NumPy, matplotlib
    and what they need (from the installed distributions' metadata), nothing else."""
    import importlib.metadata as metadata
    import re

    wanted, seen = ["numpy", "matplotlib"], set()
    while wanted:
        dist = wanted.pop()
        key = re.sub(r"[-_.]+", "-", dist).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        wanted += [
            re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r
        ]
    names = set(sys.stdlib_module_names) | {"numpy", "matplotlib", "mpl_toolkits", "pylab"}
    for module, dists in metadata.packages_distributions().items():
        if any(re.sub(r"[-_.]+", "-", d).lower() in seen for d in dists):
            names.add(module)
    return frozenset(names - BLOCKED_PACKAGES - {"autograder"})


def warm() -> None:
    """What every notebook needs, imported before any request exists (in the factory,
    ``zygote``, or at the start of an unsandboxed kernel), and the imports answers may use."""
    exercise.load_families()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401 - the chapters all plot

    _Kernel.allowed = allowed_modules()


def _read_request(fd: int) -> Request:
    import pickle

    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return pickle.loads(b"".join(chunks))  # from the coordinator: trusted


def main() -> None:
    """An unsandboxed kernel (``--unsandboxed``): warm up, then serve one request."""
    try:
        warm()
    except BaseException:  # noqa: BLE001
        os._exit(1)
    serve()


def serve() -> None:
    """fd 0 carries the request, fd 1 the channel to the coordinator; never returns."""
    try:
        channel = os.dup(1)
        request = _read_request(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.closerange(3, channel)
        os.closerange(channel + 1, 1 << 16)
        workdir = os.getcwd()
        os.environ.update(HOME=workdir, MPLCONFIGDIR=workdir, MPLBACKEND="Agg")
        _Kernel.fd, _Kernel.workdir = channel, os.path.realpath(workdir)
        _Kernel.course_steps = frozenset(i for i, step in enumerate(request.plan)
                                         if step.kind in ("test", "book"))
        _install_torch_stand_in()
        runtime.session = _Session(request.cases)
        sys.meta_path.insert(0, _ImportWatch)
        builtins.__import__ = _watched_import
        snapshot = _snapshot()
        sys.addaudithook(_audit)
        _run_plan(request, snapshot)
        wire.send(channel, {"event": "done"})
    except BaseException:  # noqa: BLE001 - the kernel ends here whatever happened
        pass
    os._exit(0)


if __name__ == "__main__":
    main()


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
