"""``make bench``: the book's vectorized reference answers against torch, in one run.

Each answer is loaded from its chapter in solutions/ (the solution cells, as a student
would write them), checked equal to torch first, then timed in float32 on realistic
shapes. Timing is noisy on shared cores and BLAS worker threads keep spinning after a
matmul and slow the next call, so each side is timed in its own block, with a pause
between blocks, and the median of several blocks is reported as a ratio.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import statistics
import time
import tracemalloc
import types
import warnings

import numpy as np

from . import course, submission

# (label, chapter, function, NumPy-call builder, torch-call builder, target ratio)
TARGETS = []


def _case(label, chapter, name, target):
    def register(make):
        TARGETS.append((label, chapter, name, make, target))
        return make
    return register


@functools.lru_cache(maxsize=None)
def answers(chapter: str) -> types.SimpleNamespace:
    """Run a chapter's code cells except its tests; the namespace holds its answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A chapter in parts runs them in order; what a part brings in from an earlier one is the same code.
    cells = [cell for name in course.notebooks(chapter)
             for cell in json.loads(course.source_notebook(chapter, name).read_text(encoding="utf-8"))["cells"]]
    namespace = {"__name__": f"bench_{chapter}"}
    # The chapter's own prints and warnings are not the benchmark's output.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in cells:
            meta = submission._meta(cell)
            if cell["cell_type"] != "code" or (meta.get("grade") and not meta.get("solution")):
                continue
            exec(compile(submission._text(cell["source"]), chapter, "exec"), namespace)  # noqa: S102
            plt.close("all")
    return types.SimpleNamespace(**namespace)


def _rand(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


@_case("conv2d dense (8,64,56,56)x(64,64,3,3) pad 1", "01_convolution", "conv2d", 2.0)
def _dense(rng, F):
    x, w = _rand(rng, 8, 64, 56, 56), _rand(rng, 64, 64, 3, 3)
    return (x, w), {"padding": 1}, lambda t: F.conv2d(t[0], t[1], padding=1)


@_case("conv2d stem (32,3,224,224)x(64,3,7,7) stride 2 pad 3", "01_convolution", "conv2d", 1.5)
def _stem(rng, F):
    x, w = _rand(rng, 32, 3, 224, 224), _rand(rng, 64, 3, 7, 7)
    return (x, w), {"stride": 2, "padding": 3}, lambda t: F.conv2d(t[0], t[1], stride=2, padding=3)


@_case("depthwise (16,32,28,28) groups 32, 3x3", "02_groups_dilation", "conv2d", 8.0)
def _depthwise(rng, F):
    x, w = _rand(rng, 16, 32, 28, 28), _rand(rng, 32, 1, 3, 3)
    return (x, w), {"padding": 1, "groups": 32}, lambda t: F.conv2d(t[0], t[1], padding=1, groups=32)


@_case("conv_transpose2d (8,64,28,28)x(64,32,4,4) stride 2 pad 1", "04_transposed_convolution",
       "conv_transpose2d", 3.0)
def _transposed(rng, F):
    x, w = _rand(rng, 8, 64, 28, 28), _rand(rng, 64, 32, 4, 4)
    return (x, w), {"stride": 2, "padding": 1}, lambda t: F.conv_transpose2d(t[0], t[1], stride=2, padding=1)


@_case("max_pool2d (8,64,112,112) k3 s2 p1", "05_pooling", "max_pool2d", 2.0)
def _maxpool(rng, F):
    x = _rand(rng, 8, 64, 112, 112)
    return (x, 3), {"stride": 2, "padding": 1}, lambda t: F.max_pool2d(t[0], 3, stride=2, padding=1)


@_case("max_pool2d with return_indices", "05_pooling", "max_pool2d", 4.0)
def _maxpool_indices(rng, F):
    x = _rand(rng, 8, 64, 112, 112)
    return ((x, 3), {"stride": 2, "padding": 1, "return_indices": True},
            lambda t: F.max_pool2d(t[0], 3, stride=2, padding=1, return_indices=True))


@_case("batch_norm training (32,64,56,56)", "08_batch_norm", "batch_norm", 2.0)
def _batchnorm(rng, F):
    x = _rand(rng, 32, 64, 56, 56)
    mean, var = np.zeros(64, np.float32), np.ones(64, np.float32)
    return ((x, mean, var), {"training": True},
            lambda t: F.batch_norm(t[0], t[1].clone(), t[2].clone(), training=True))


@_case("group_norm (8,64,56,56) G=32", "10_instance_group_norm", "group_norm", 4.0)
def _groupnorm(rng, F):
    x = _rand(rng, 8, 64, 56, 56)
    return (x, 32), {}, lambda t: F.group_norm(t[0], 32)


@_case("layer_norm over (64,56,56)", "09_layer_rms_norm", "layer_norm", 4.0)
def _layernorm(rng, F):
    x = _rand(rng, 8, 64, 56, 56)
    return (x, (64, 56, 56)), {}, lambda t: F.layer_norm(t[0], (64, 56, 56))


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def run(blocks: int = 5, pause: float = 0.3, only=None) -> list[dict]:
    import torch
    from threadpoolctl import threadpool_info

    F = torch.nn.functional
    rng = np.random.default_rng(0)
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info())
    print(f"torch {torch.__version__}: {torch.get_num_threads()} threads; numpy {np.__version__}: {blas}")
    print(f"{'case':58} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6} {'target':>6}")
    results = []
    for label, chapter, name, make, target in TARGETS:
        if only and not any(o in label for o in only):
            continue
        try:
            fn = getattr(answers(chapter), name)
        except (FileNotFoundError, AttributeError) as err:
            print(f"{label:58} skipped: {type(err).__name__} {err}")
            continue
        args, kwargs, torch_call = make(rng, F)
        tensors = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
        got, want = _first(fn(*args, **kwargs)), _first(torch_call(tensors)).numpy()
        if not np.allclose(got, want, rtol=1e-3, atol=1e-3):
            print(f"{label:58} NOT EQUAL to torch (max error {np.max(np.abs(got - want)):.3g})")
            continue
        numpy_times, torch_times = [], []
        with torch.no_grad():
            for _ in range(blocks):
                numpy_times.append(_median_time(lambda: fn(*args, **kwargs), 3))
                time.sleep(pause)
                torch_times.append(_median_time(lambda: torch_call(tensors), 3))
                time.sleep(pause)
        n, t = statistics.median(numpy_times), statistics.median(torch_times)
        ratio = n / t
        mark = "ok" if ratio <= target else "over"
        print(f"{label:58} {n * 1e3:9.1f} {t * 1e3:9.1f} {ratio:6.2f} {target:5.1f}x {mark}")
        results.append({"case": label, "numpy_ms": n * 1e3, "torch_ms": t * 1e3, "ratio": ratio,
                        "target": target})
    _im2col_memory()
    return results


def _im2col_memory():
    """Peak extra memory of an im2col convolution, as a multiple of the input's size."""
    conv = answers("01_convolution").conv2d
    x = np.random.default_rng(1).standard_normal((8, 64, 56, 56), dtype=np.float32)
    w = np.random.default_rng(2).standard_normal((64, 64, 3, 3), dtype=np.float32)
    tracemalloc.start()
    conv(x, w, padding=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"im2col memory: conv2d 3x3 on {x.nbytes / 2**20:.1f} MiB of input peaks at "
          f"{peak / 2**20:.1f} MiB extra ({peak / x.nbytes:.1f}x the input)")


def main(args) -> int:
    run(blocks=args.blocks, only=args.only)
    return 0
