"""Where a grading kernel runs: a bubblewrap sandbox built as an allow-list.

One sandbox per grading process holds the kernel factory (``zygote``): a Python that
imported NumPy, matplotlib and the checks and never holds anything secret. Each kernel is
forked from it and at once put in namespaces of its own (user, mount, PID, network, IPC),
with its own scratch tmpfs and /proc, every capability dropped. What each kernel has:
- mount namespace: read-only /usr, the Python installation, and from the venv only
  NumPy, matplotlib and the distributions they need; this package and ``data/`` at
  /opt/lfs; a size-capped tmpfs as its scratch folder. ``solutions/``, the gradebook,
  ``grading-runs/``, ``submitted/``, ``.git`` and torch are not in it at all;
- PID, network, IPC, UTS and user namespaces: it sees and signals nothing outside (not
  the factory, not another kernel), has no network, runs as uid 65534 without
  capabilities, and everything it starts dies with it;
- limits: address space, CPU time, file size (rlimits); processes and CPU accounting
  in a cgroup of its own when the machine offers one.
Kernels are forked one ahead (``KernelPool``), so a notebook never waits for one.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .paths import COURSE_ROOT
from .zygote import apply_limits

INSIDE_ROOT = "/opt/lfs"  # the package and data/ inside the sandbox (paths.COURSE_ROOT there)
INSIDE_SITE = "/opt/lfs/site"
SCRATCH = "/tmp/work"
NOBODY = 65534
KERNEL_DISTRIBUTIONS = ("numpy", "matplotlib")
MAX_PROCESSES = 64
PATHS = (f"import sys; sys.path[:0] = [{INSIDE_ROOT!r}]; import site; "
         f"site.addsitedir({INSIDE_SITE!r}); ")
BOOT = PATHS + "from autograder.zygote import main; main()"
FORK_TIMEOUT = 60  # seconds for the factory to answer one fork


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here; the message says how to get one."""


@dataclass
class Limits:
    memory_bytes: int = 4 * 2**30
    cpu_seconds: int = 900  # the whole kernel; cells are timed by the coordinator
    file_bytes: int = 64 * 2**20
    scratch_bytes: int = 256 * 2**20


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def kernel_site_entries(site_packages: Path) -> list[Path]:
    """Top-level entries of site-packages that NumPy and matplotlib need (closure of
    their requirements, from the distributions' own metadata)."""
    import importlib.metadata as metadata

    wanted, seen, entries = list(KERNEL_DISTRIBUTIONS), set(), set()
    while wanted:
        name = wanted.pop()
        if _normal(name) in seen:
            continue
        seen.add(_normal(name))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        wanted += [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0]
                   for r in dist.requires or [] if "extra ==" not in r]
        for file in dist.files or []:
            if file.parts and not file.parts[0].startswith(".."):
                entries.add(file.parts[0])
    return sorted(site_packages / e for e in entries if (site_packages / e).exists()
                  and e != "__pycache__" and not e.endswith(".pth"))


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def command(limits: Limits) -> list[str]:
    """The bwrap command line of the kernel factory (``zygote``)."""
    base = Path(sys.base_prefix).resolve()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    args = [bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "grader",
            "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib32", "lib64", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            args += ["--symlink", target, f"/{link}"]
    if Path("/etc/ld.so.cache").exists():
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if not str(base).startswith("/usr/"):
        args += ["--ro-bind", str(base), str(base)]
    args += ["--dir", INSIDE_SITE]
    for entry in kernel_site_entries(site_packages):
        args += ["--ro-bind", str(entry), f"{INSIDE_SITE}/{entry.name}"]
    # /proc: a kernel mounts a fresh one of its own PID namespace, which the kernel allows
    # only where a /proc without covered parts exists (bwrap's --proc covers /proc/sys);
    # the factory's is never seen by student code.
    args += ["--ro-bind", str(COURSE_ROOT / "autograder"), f"{INSIDE_ROOT}/autograder",
             "--ro-bind", str(COURSE_ROOT / "data"), f"{INSIDE_ROOT}/data",
             "--bind", "/proc", "/proc", "--dev", "/dev",
             "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp",
             "--dir", SCRATCH, "--chdir", SCRATCH, "--clearenv"]
    env = {"HOME": SCRATCH, "MPLCONFIGDIR": SCRATCH, "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + [str(base / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"),
                   "-s", "-E", "-B", "-c", BOOT, json.dumps(asdict(limits))]


def unsandboxed_command() -> list[str]:
    """``--unsandboxed``: the same kernel as a plain process (not protected)."""
    boot = (f"import sys; sys.path.insert(0, {str(COURSE_ROOT)!r}); "
            "from autograder.kernel import main; main()")
    return [sys.executable, "-s", "-B", "-c", boot]


def probe() -> str | None:
    """None when a sandbox can be made here, else what is missing and how to get it."""
    if bwrap_path() is None:
        return ("bubblewrap is not installed: `sudo apt-get install bubblewrap` (Debian/Ubuntu), "
                "`dnf install bubblewrap` (Fedora); `make grade` installs it when run as root")
    result = subprocess.run(
        [
            bwrap_path(),
            "--unshare-all",
            "--uid",
            str(NOBODY),
            "--gid",
            str(NOBODY),
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "/bin/true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        return ("bubblewrap cannot create namespaces here ("
                f"{result.stderr.strip()[:200]}): enable unprivileged user namespaces "
                "(sysctl kernel.unprivileged_userns_clone=1) or run grading as root")
    return None


# Cgroups: a process limit and CPU accounting per kernel ---------------------------------

class Cgroups:
    """Per-kernel groups under the pids and cpuacct hierarchies (cgroup v1) or one group
    (v2); ``None`` folders where the machine offers none."""

    def __init__(self):
        self.pids = self.cpu = None
        self.v2 = False
        unified = Path("/sys/fs/cgroup/cgroup.controllers")
        if unified.exists():
            self.v2 = True
            self.pids = self.cpu = self._make(Path("/sys/fs/cgroup/lfs-grader"), v2=True)
        else:
            self.pids = self._make(Path("/sys/fs/cgroup/pids/lfs-grader"))
            self.cpu = self._make(Path("/sys/fs/cgroup/cpuacct/lfs-grader"))
        for parent in {self.pids, self.cpu} - {None}:
            self._remove_stale(parent)

    @staticmethod
    def _remove_stale(parent: Path) -> None:
        """Groups a killed grading process left behind (named k<its pid>-<n>), once empty."""
        for group in parent.glob("k*-*"):
            owner = group.name[1:].split("-")[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                try:
                    group.rmdir()
                except OSError:
                    pass

    @staticmethod
    def _make(folder: Path, v2=False) -> Path | None:
        try:
            folder.mkdir(exist_ok=True)
            if v2:
                (folder / "cgroup.subtree_control").write_text("+pids")
            probe = folder / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
            return folder
        except OSError:
            return None

    def describe(self) -> str:
        parts = [f"pids cgroup (max {MAX_PROCESSES})" if self.pids else "no pids cgroup",
                 "CPU-time accounting" if self.cpu else "CPU time from /proc"]
        return ", ".join(parts)

    def groups_for(self, name: str) -> list[Path]:
        made = []
        for parent in {self.pids, self.cpu} - {None}:
            group = parent / name
            try:
                group.mkdir(exist_ok=True)
                if parent == self.pids:
                    (group / "pids.max").write_text(str(MAX_PROCESSES))
                made.append(group)
            except OSError:
                pass
        return made

    def cpu_seconds(self, groups: list[Path]) -> float | None:
        for group in groups:
            try:
                if self.v2:
                    for line in (group / "cpu.stat").read_text().splitlines():
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
                elif self.cpu and group.parent == self.cpu:
                    return int((group / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError):
                pass
        return None


def _descendants_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, from /proc (no cgroup here)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


# The factory and its kernels ------------------------------------------------------------

class KernelUnavailable(RuntimeError):
    """The factory did not fork a kernel (it died, or did not answer in time)."""


class Zygote:
    """The sandboxed kernel factory of one grading process, and the way to ask it for a kernel."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.lock = threading.Lock()
        self.process = None
        self._start()

    def _start(self) -> None:
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The forked child sends its credentials; with SO_PASSCRED the kernel hands us its
        # PID as this process sees it (it is another number inside the sandbox).
        self.control.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.control.settimeout(FORK_TIMEOUT)
        self.process = subprocess.Popen(
            command(self.limits),
            stdin=theirs,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        theirs.close()

    def fork(self, request_end: int, channel_end: int) -> int:
        """A new kernel reading its request from ``request_end`` and reporting on
        ``channel_end``; returns its PID (as seen here). Restarts a dead factory once."""
        with self.lock:
            for attempt in (1, 2):
                try:
                    socket.send_fds(self.control, [b"F"], [request_end, channel_end])
                    size = socket.CMSG_SPACE(struct.calcsize("iII"))
                    data, ancillary, _, _ = self.control.recvmsg(1, size)
                    for level, kind, payload in ancillary:
                        if (
                            level == socket.SOL_SOCKET
                            and kind == socket.SCM_CREDENTIALS
                            and data == b"k"
                        ):
                            return struct.unpack("iII", payload[:12])[0]
                    raise OSError("the factory answered without credentials")
                except OSError as err:
                    if attempt == 2:
                        raise KernelUnavailable(
                            f"the kernel factory did not answer: {err}"
                        ) from None
                    self.close()
                    self._start()

    def close(self) -> None:
        try:
            self.control.close()
        except OSError:
            pass
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class Kernel:
    """A kernel that waits for its request; ``fd`` is the channel it reports on."""

    _count = 0
    _lock = threading.Lock()
    spent = 0.0  # CPU seconds of every kernel this process has ended (bench-grade's figures)
    cleaners: list = []  # threads removing the cgroups of ended kernels

    def __init__(self, zygote: Zygote | None, limits: Limits, cgroups: Cgroups | None):
        with Kernel._lock:
            Kernel._count += 1
            name = f"k{os.getpid()}-{Kernel._count}"
        self.cgroups = cgroups
        self.groups = cgroups.groups_for(name) if cgroups else []
        self.pid = None
        request_end, self.request = os.pipe()
        self.fd, channel_end = os.pipe()
        try:
            if zygote is not None:
                self.pid = self._fork_into_groups(zygote, request_end, channel_end)
                os.write(self.request, b"G")
            else:
                self.pid = self._spawn_unsandboxed(request_end, channel_end, limits)
        finally:
            os.close(request_end)
            os.close(channel_end)

    def _fork_into_groups(self, zygote: Zygote, request_end: int, channel_end: int) -> int:
        """A forked kernel, in its cgroups before the go-ahead (all it starts is counted).
        A factory that dies just after forking takes its child along: that child is gone
        before it can join, and the next fork finds the factory dead and restarts it."""
        for attempt in (1, 2):
            pid = zygote.fork(request_end, channel_end)
            try:
                for group in self.groups:
                    with open(group / "cgroup.procs", "w") as fh:
                        fh.write(str(pid))
                return pid
            except ProcessLookupError:
                if attempt == 2:
                    raise KernelUnavailable("two forked kernels died before they started") from None
        raise AssertionError("unreachable")

    def _spawn_unsandboxed(self, request_end: int, channel_end: int, limits: Limits) -> int:
        groups = [str(g / "cgroup.procs") for g in self.groups]

        def enter():  # in the child, before exec: limits and groups are inherited by all
            for path in groups:
                with open(path, "w") as fh:
                    fh.write("0")
            apply_limits(asdict(limits))

        self.process = subprocess.Popen(
            unsandboxed_command(),
            stdin=request_end,
            stdout=channel_end,
            stderr=subprocess.DEVNULL,
            preexec_fn=enter,
            close_fds=True,
        )
        return self.process.pid

    def send(self, payload: bytes) -> None:
        try:
            with open(self.request, "wb", closefd=True) as pipe:
                self.request = None
                pipe.write(payload)
        except (BrokenPipeError, OSError):
            pass  # the kernel died before reading: seen as end of channel

    def cpu_seconds(self) -> float:
        if self.cgroups is not None:
            used = self.cgroups.cpu_seconds(self.groups)
            if used is not None:
                return used
        return _descendants_cpu(self.pid) if self.pid else 0.0

    def kill(self) -> None:
        used = self.cpu_seconds()
        with Kernel._lock:
            Kernel.spent += used
        pids = {self.pid} if self.pid else set()
        for group in self.groups:
            try:
                pids.update(int(pid) for pid in (group / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        for pid in pids:  # the kernel's PID 1 dies with these, and takes its namespace along
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if getattr(self, "process", None) is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for fd in (self.request, self.fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.request = self.fd = None
        if self.groups:  # a group empties a moment after its last process: not worth waiting for
            cleaner = threading.Thread(target=_remove_groups, args=(self.groups,), daemon=True)
            cleaner.start()
            with Kernel._lock:
                Kernel.cleaners = [t for t in Kernel.cleaners if t.is_alive()] + [cleaner]


def _remove_groups(groups: list[Path]) -> None:
    for group in groups:
        for _ in range(250):
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


class KernelPool:
    """Hands out kernels; each thread keeps the next one forked while it grades."""

    def __init__(self, sandboxed: bool = True, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.sandboxed = sandboxed
        if sandboxed:
            problem = probe()
            if problem:
                raise SandboxUnavailable(problem)
        self.zygote = Zygote(self.limits) if sandboxed else None
        self.cgroups = Cgroups()
        self.local = threading.local()
        self.spares: list[Kernel] = []
        self.lock = threading.Lock()

    def describe(self) -> str:
        how = ("bubblewrap sandbox; each kernel forked from a warm factory into its own user, "
               "mount, PID, network and IPC namespaces, uid 65534 without capabilities, "
               "read-only allow-list filesystem" if self.sandboxed else
               "NOT SANDBOXED (--unsandboxed): results are not protected")
        return f"{how}; {self.cgroups.describe()}"

    def _start(self) -> Kernel:
        kernel = Kernel(self.zygote, self.limits, self.cgroups)
        with self.lock:
            self.spares.append(kernel)
        return kernel

    def take(self) -> Kernel:
        """A kernel for this thread, and the start of the next one."""
        kernel = getattr(self.local, "next", None) or self._start()
        self.local.next = self._start()
        with self.lock:
            self.spares.remove(kernel)
        return kernel

    def close(self) -> None:
        with self.lock:
            spares, self.spares = list(self.spares), []
        for kernel in spares:
            kernel.kill()
        if self.zygote is not None:
            self.zygote.close()
        with Kernel._lock:
            cleaners, Kernel.cleaners = list(Kernel.cleaners), []
        for cleaner in cleaners:
            cleaner.join()
