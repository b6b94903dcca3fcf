"""What a grading kernel can see of the machine, asked from inside real kernels.

Kernels are forked from one warm factory (``autograder.zygote``) in a bubblewrap sandbox;
each must still be as alone as a separately started sandbox. A probe runs as student code
in real kernels of one pool and reports what it sees on the grader's channel (a flag
whose detail is JSON), so these are the operating system's answers, not the audit hook's.
"""
from __future__ import annotations

import json

import pytest

from autograder import sandbox
from autograder.execution import Settings, execute
from autograder.kernel import Step

PROBE = """
import json, os, sys, time
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())
marker = os.path.join(os.getcwd(), 'marker-' + MARK)
open(marker, 'w').write(MARK)
time.sleep(PAUSE)
seen = {
    'pid': os.getpid(), 'uid': os.getuid(), 'cwd': os.getcwd(),
    'processes': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    'capabilities': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd', 'CapAmb')],
    'no_new_privs': status['NoNewPrivs'].strip(),
    'scratch': sorted(os.listdir(os.getcwd())), 'tmp': sorted(os.listdir('/tmp')),
    'solutions': os.path.exists('/opt/lfs/solutions'), 'torch': 'torch' in sys.modules
                 and hasattr(sys.modules['torch'], '__file__'),
}
k = sys.modules['autograder.kernel']
k.wire.send(k._Kernel.fd, {'event': 'flag', 'kind': 'probe', 'detail': json.dumps(seen),
                           'step': k._Kernel.step})
"""


def _probe(pool, mark: str, pause: float) -> dict:
    source = f"MARK = {mark!r}\nPAUSE = {pause}\n" + PROBE
    result = execute(pool, [Step("student", source)], {}, Settings(timeout=30))
    details = [detail for kind, detail, _ in result.flags if kind == "probe"]
    assert details, f"the probe did not report: {result.status} {result.flags}"
    return json.loads(details[0])


@pytest.fixture(scope="module")
def pool():
    pool = sandbox.KernelPool()
    yield pool
    pool.close()


def test_a_kernel_is_pid_1_of_its_own_namespace_and_sees_no_other_process(pool):
    seen = _probe(pool, "a", 0)
    assert seen["pid"] == 1 and seen["processes"] == [1], seen
    assert seen["uid"] == sandbox.NOBODY, seen


def test_a_kernel_holds_no_capability(pool):
    seen = _probe(pool, "a", 0)
    assert seen["capabilities"] == ["0000000000000000"] * 4, seen
    assert seen["no_new_privs"] == "1", seen


def test_nothing_secret_is_in_the_filesystem(pool):
    seen = _probe(pool, "a", 0)
    assert not seen["solutions"] and not seen["torch"], seen


def test_two_kernels_of_one_factory_share_no_scratch_and_no_processes(pool):
    """Two kernels forked at once, from the same factory, in two threads."""
    import threading

    results = {}

    def run(mark):
        results[mark] = _probe(pool, mark, 1.0)

    threads = [threading.Thread(target=run, args=(mark,)) for mark in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for mark in ("left", "right"):
        seen = results[mark]
        assert seen["scratch"] == [f"marker-{mark}"], seen
        assert seen["tmp"] == ["work"], seen
        assert seen["processes"] == [1], seen


def test_a_dead_factory_is_replaced(pool):
    pool.zygote.process.kill()
    pool.zygote.process.wait()
    pool.local.next = None  # the spare kernel died with its factory
    seen = _probe(pool, "after", 0)
    assert seen["pid"] == 1, seen
