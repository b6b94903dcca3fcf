"""`make bench` on its real shapes, once, without timing anything that matters: every case
must still run, and every benchmarked reference answer must equal torch there (the bench
leaves out a case whose answer differs, so a missing row is a wrong answer). The shapes are
the ones that exercise what small graded cases do not: a column matrix built over several
blocks of images, stride phases, a batch larger than one depthwise block."""
import json

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
