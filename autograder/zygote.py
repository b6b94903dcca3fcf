"""The kernel factory: one warm Python inside the sandbox that forks each grading kernel.

Starting a fresh sandboxed Python for every notebook costs over a second of CPU (NumPy,
matplotlib and the checks imported again); forking a warm one costs milliseconds. This
process is started by ``sandbox.Zygote`` in a bubblewrap sandbox like a kernel's, before
and apart from anything secret: it imports NumPy, matplotlib and the checks, and then
only ever receives two pipe ends per kernel. Answers, submissions and hidden cases go to
the kernel through those pipes and never pass through here, so a forked kernel inherits
nothing but imported code.

Each kernel is put in namespaces of its own before any student code runs, so kernels
forked from one factory are as far apart as separately started sandboxes:
- a new user namespace (uid 65534 mapped to itself), in which it creates new mount, PID,
  network, IPC and UTS namespaces; it becomes PID 1 of its PID namespace, so it sees and
  signals nothing else, and everything it starts dies with it;
- a fresh size-capped tmpfs as /tmp (its scratch folder) and a fresh /proc showing its own
  processes only; the rest of the filesystem is the factory's read-only allow-list;
- then every capability is dropped and no_new_privs set: it cannot mount, unmount or
  change namespaces again.

Protocol on fd 0 (a Unix socket to the coordinator): the coordinator sends one byte with
two descriptors (the request pipe's read end, the channel pipe's write end); the forked
child answers with its own credentials (SCM_CREDENTIALS: the coordinator reads the PID
translated into its own namespace, to put the kernel in its cgroup), then waits for one
byte on the request pipe before it builds its namespaces and reads the request.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 38, 47, 4
PR_CAPBSET_DROP = 24
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SCRATCH = "/tmp/work"

_libc = ctypes.CDLL(None, use_errno=True)


class SetupFailed(RuntimeError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SetupFailed(f"{what}: {os.strerror(ctypes.get_errno())}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _own_namespaces() -> None:
    """New user namespace (its creator has every capability in it), then the rest."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER), "unshare(user)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare(mount, pid, net, ipc, uts)")


def _own_filesystem(scratch_bytes: int) -> None:
    """PID 1 of the new namespace: private mounts, its own /tmp and /proc."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    options = f"size={scratch_bytes},mode=0755".encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "tmpfs /tmp")
    os.mkdir(SCRATCH, 0o700)
    os.chdir(SCRATCH)
    _check(
        _libc.mount(b"proc", b"/proc", b"proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        "proc /proc",
    )


def _drop_capabilities() -> None:
    for cap in range(64):  # the bounding set, so no later exec regains any
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    _check(
        _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities"
    )
    header = struct.pack("II", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # effective, permitted, inheritable: all zero, twice (64 bits)
    number = SYS_CAPSET.get(os.uname().machine)
    if number is None:
        raise SetupFailed(f"capset: unknown syscall number on {os.uname().machine}")
    _check(_libc.syscall(number, header, data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") as fh:
        effective = [line.split()[1] for line in fh if line.startswith("CapEff:")]
    if effective != ["0000000000000000"]:
        raise SetupFailed(f"capabilities still held: {effective}")


def apply_limits(limits: dict) -> None:
    """The kernel's rlimits (``sandbox.Limits`` as a dict); never above a hard limit."""
    for which, value in ((resource.RLIMIT_AS, limits["memory_bytes"]),
                         (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                         (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                         (resource.RLIMIT_CORE, 0)):
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def _die_with_parent() -> None:
    parent = os.getppid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _child(control: socket.socket, request: int, channel: int, limits: dict) -> None:
    """The forked child: answer with credentials, wait for the go-ahead, isolate, fork
    the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with_parent()
    creds = struct.pack("iII", os.getpid(), os.getuid(), os.getgid())
    control.sendmsg([b"k"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
    control.close()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(request, 0)
    os.dup2(channel, 1)
    os.dup2(devnull, 2)
    os.closerange(3, 1 << 16)  # nothing of the factory's, or of another kernel, stays open
    if os.read(0, 1) != b"G":  # the coordinator has put this process in its cgroup
        os._exit(0)
    apply_limits(limits)
    _own_namespaces()
    kernel = os.fork()  # PID 1 of the new PID namespace
    if kernel:
        os.close(0)
        os.close(1)
        _, status = os.waitpid(kernel, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _die_with_parent()
    _own_filesystem(limits["scratch_bytes"])
    _drop_capabilities()
    from .kernel import serve

    serve()


def main() -> None:
    """fd 0: the control socket; argv[1]: the limits as JSON. Serves until the socket closes."""
    limits = json.loads(sys.argv[1])
    from .kernel import warm

    warm()
    control = socket.socket(fileno=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked children are reaped by the system
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 2)
        except OSError:
            break
        if not message:
            break
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                _child(control, fds[0], fds[1], limits)
            except BaseException:  # noqa: BLE001 - a kernel that cannot be isolated never runs
                pass
            os._exit(1)
        for fd in fds:
            os.close(fd)
    os._exit(0)
