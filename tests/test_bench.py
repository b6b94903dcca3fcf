"""`make bench` on its real shapes, once, without timing anything that matters: every case
must still run, and every benchmarked reference answer must equal torch there (the bench
leaves out a case whose answer differs, so a missing row is a wrong answer). The shapes are
the ones that exercise what small graded cases do not: a column matrix built over several
blocks of images, stride phases, a batch larger than one depthwise block."""
import json
import tracemalloc

import numpy as np

from autograder import bench


def test_every_case_equals_torch_on_the_bench_shapes(capsys):
    rows = bench.run(blocks=1, pause=0)
    printed = capsys.readouterr().out
    assert "NOT EQUAL" not in printed and "skipped" not in printed, printed
    assert [row["case"] for row in rows] == [target[0] for target in bench.TARGETS]
    for row in rows:
        assert min(row["numpy_ms"], row["limit_ms"], row["torch_ms"]) > 0, row
        assert set(row["median_ms"]) == {"numpy", "limit", "torch"}
        assert all(row["median_ms"][side] >= row[f"{side}_ms"] for side in row["median_ms"])
    json.dumps(rows)  # what main() writes to data/bench.json


def _peak_over_input(conv2d, x, w) -> float:
    tracemalloc.start()
    try:
        conv2d(x, w, padding=1)
        return tracemalloc.get_traced_memory()[1] / x.nbytes
    finally:
        tracemalloc.stop()


def test_the_column_matrix_is_whole_in_chapter_03_and_in_blocks_in_chapter_01():
    """What chapter 03's memory demo and appendix 14 say: unfold + matmul holds all nine
    copies of the input at once; chapter 01's answer, on a batch bigger than one 32 MiB
    block, never does."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16, 64, 64), dtype=np.float32)
    w = rng.standard_normal((8, 16, 3, 3), dtype=np.float32)
    assert _peak_over_input(bench.answers("03_fold_unfold").conv2d, x, w) > 9
    assert _peak_over_input(bench.answers("01_convolution").conv2d, x, w) < 9
