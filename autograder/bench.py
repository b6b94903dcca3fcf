"""``make bench``: the book's vectorized reference answers against torch and against
NumPy's own limit, in one run, written to ``data/bench.json`` for the speed appendix.

Each answer is loaded from its chapter in solutions/ (the solution cells, as a student
would write them), checked equal to torch first, then timed in float32 on realistic
shapes. Beside torch's time stands **NumPy's limit** for the same case: for a dense
convolution, one matrix product with the same multiply-adds (what BLAS does at best with
the work the layer needs); for the memory-bound layers, one elementwise pass over the
input (read once, an output of its size written once). Each case has a target against
one of the two. Timing is noisy on shared cores, and BLAS worker threads keep spinning
after a matmul and slow the next call, so each side is timed in its own block of calls,
the sides alternate, and blocks are paused apart. Other programs on the cores can only
add time, so the ratios use each side's **fastest** call (as timeit's documentation
advises); each side's median call is kept in the results file beside it, to show how
noisy the run was. The peak extra memory of one call (NumPy's allocations, traced) is
reported too.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import io
import json
import os
import platform
import statistics
import time
import timeit
import tracemalloc
import types
import warnings

import numpy as np

from . import compare, course, nbcell
from .paths import COURSE_ROOT

RESULTS = COURSE_ROOT / "data" / "bench.json"

# (label, chapter, function, builder, target ratio, "limit" or "torch": what the target is against)
TARGETS = []


def _case(label, chapter, name, target, against):
    def register(make):
        TARGETS.append((label, chapter, name, make, target, against))
        return make
    return register


@functools.cache
def answers(chapter: str) -> types.SimpleNamespace:
    """Run a chapter's code cells except its tests; the namespace holds its answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A chapter in parts runs them in order; what a part brings in from an earlier one is
    # the same code.
    cells = [
        cell
        for name in course.notebooks(chapter)
        for cell in json.loads(course.source_notebook(chapter, name).read_text(encoding="utf-8"))[
            "cells"
        ]
    ]
    namespace = {"__name__": f"bench_{chapter}"}
    # The chapter's own prints and warnings are not the benchmark's output.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in cells:
            meta = nbcell.grading(cell)
            if cell["cell_type"] != "code" or (meta.get("grade") and not meta.get("solution")):
                continue
            exec(compile(nbcell.source(cell), chapter, "exec"), namespace)  # noqa: S102
            plt.close("all")
    return types.SimpleNamespace(**namespace)


def _rand(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _matmul_limit(rng, rows, inner, columns):
    """One float32 product with a convolution's multiply-adds: (rows x inner) @ (inner x
    columns)."""
    a, b = _rand(rng, rows, inner), _rand(rng, inner, columns)
    out = np.empty((rows, columns), np.float32)
    return lambda: np.matmul(a, b, out=out)


def _pass_limit(x):
    """One elementwise pass: read the input once, write an output of its size."""
    out = np.empty_like(x)
    return lambda: np.multiply(x, np.float32(1.5), out=out)


def _conv(rng, F, name, x_shape, w_shape, limit, **kwargs):
    """A convolution case: (args, kwargs, torch's call, NumPy's limit)."""
    x, w = _rand(rng, *x_shape), _rand(rng, *w_shape)
    torch_call = getattr(F, name)
    limit_call = _pass_limit(x) if limit == "pass" else _matmul_limit(rng, *limit)
    return (x, w), kwargs, lambda t: torch_call(t[0], t[1], **kwargs), limit_call


@_case("conv2d dense (8,64,56,56)x(64,64,3,3) pad 1", "01_convolution", "conv2d", 1.5, "limit")
def _dense(rng, F):
    return _conv(rng, F, "conv2d", (8, 64, 56, 56), (64, 64, 3, 3), (64, 64 * 9, 8 * 56 * 56),
                 padding=1)


@_case("conv2d stem (32,3,224,224)x(64,3,7,7) stride 2 pad 3", "01_convolution", "conv2d", 1.5,
       "limit")
def _stem(rng, F):
    return _conv(rng, F, "conv2d", (32, 3, 224, 224), (64, 3, 7, 7),
                 (64, 3 * 49, 32 * 112 * 112), stride=2, padding=3)


@_case("depthwise (16,32,28,28) groups 32, 3x3", "02_groups_dilation", "conv2d", 3.0, "torch")
def _depthwise(rng, F):
    return _conv(rng, F, "conv2d", (16, 32, 28, 28), (32, 1, 3, 3), "pass", padding=1, groups=32)


@_case("conv_transpose2d (8,64,28,28)x(64,32,4,4) stride 2 pad 1", "04_transposed_convolution",
       "conv_transpose2d", 3.0, "torch")
def _transposed(rng, F):
    return _conv(rng, F, "conv_transpose2d", (8, 64, 28, 28), (64, 32, 4, 4),
                 (32 * 16, 64, 8 * 28 * 28), stride=2, padding=1)


@_case("max_pool2d (8,64,112,112) k3 s2 p1", "05_pooling", "max_pool2d", 2.0, "torch")
def _maxpool(rng, F):
    x = _rand(rng, 8, 64, 112, 112)
    return (
        (x, 3),
        {"stride": 2, "padding": 1},
        lambda t: F.max_pool2d(t[0], 3, stride=2, padding=1),
        _pass_limit(x),
    )


@_case("max_pool2d with return_indices", "05_pooling", "max_pool2d", 4.0, "torch")
def _maxpool_indices(rng, F):
    x = _rand(rng, 8, 64, 112, 112)
    return (
        (x, 3),
        {"stride": 2, "padding": 1, "return_indices": True},
        lambda t: F.max_pool2d(t[0], 3, stride=2, padding=1, return_indices=True),
        _pass_limit(x),
    )


@_case("batch_norm training (32,64,56,56)", "08_batch_norm", "batch_norm", 2.0, "torch")
def _batchnorm(rng, F):
    x = _rand(rng, 32, 64, 56, 56)
    mean, var = np.zeros(64, np.float32), np.ones(64, np.float32)
    return ((x, mean, var), {"training": True},
            lambda t: F.batch_norm(t[0], t[1].clone(), t[2].clone(), training=True), _pass_limit(x))


@_case("group_norm (8,64,56,56) G=32", "10_instance_group_norm", "group_norm", 3.0, "torch")
def _groupnorm(rng, F):
    x = _rand(rng, 8, 64, 56, 56)
    return (x, 32), {}, lambda t: F.group_norm(t[0], 32), _pass_limit(x)


@_case("layer_norm over (64,56,56)", "09_layer_rms_norm", "layer_norm", 3.0, "torch")
def _layernorm(rng, F):
    x = _rand(rng, 8, 64, 56, 56)
    return (x, (64, 56, 56)), {}, lambda t: F.layer_norm(t[0], (64, 56, 56)), _pass_limit(x)


def _differs_from_torch(got, want) -> str | None:
    """Why the answer is not torch's, or None: every output (max pooling's indices too), its
    dtype and its values, under the book's tolerance with the absolute part scaled to the
    output's size. These shapes sum hundreds of float32 products in another order than
    torch, so an output near 0 carries the rounding of its large neighbours; the graded
    cases are small and use the tolerance as it is."""
    got, want = compare.as_outputs(got), tuple(w.numpy() for w in compare.as_outputs(want))
    if len(got) != len(want):
        return f"{len(got)} outputs, torch has {len(want)}"
    for out, exp in zip(got, want, strict=True):
        out = np.asarray(out)
        if out.dtype != exp.dtype or out.shape != exp.shape:
            return f"{out.dtype}{out.shape}, torch gives {exp.dtype}{exp.shape}"
        rtol, atol = compare.tolerance(exp.dtype)
        scale = max(1.0, float(np.abs(exp).max(initial=0)))
        if not np.allclose(out, exp, rtol=rtol, atol=atol * scale):
            return f"max error {np.max(np.abs(out.astype(np.float64) - exp)):.3g}"
    return None


def _peak_extra_bytes(call) -> int:
    """NumPy's largest extra allocation during one call (the output included)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def machine() -> dict:
    """What the figures were measured on: they mean nothing without it."""
    import torch
    from threadpoolctl import threadpool_info

    model = platform.processor()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as fh:
            model = next(
                (line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                model,
            )
    blas = [
        {
            "library": i.get("internal_api"),
            "version": i.get("version"),
            "threads": i.get("num_threads"),
            "architecture": i.get("architecture"),
        }
        for i in threadpool_info()
    ]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
        "date": datetime.date.today().isoformat(),
    }


def run(blocks: int = 5, pause: float = 0.3, only=None) -> list[dict]:
    import torch

    F = torch.nn.functional
    rng = np.random.default_rng(0)
    print(f"{'case':58} {'numpy':>7} {'limit':>7} {'torch':>7} {'/limit':>7} {'/torch':>7} "
          f"{'target':>12} {'peak MiB':>9}")
    results = []
    for label, chapter, name, make, target, against in TARGETS:
        if only and not any(o in label for o in only):
            continue
        try:
            fn = getattr(answers(chapter), name)
        except (FileNotFoundError, AttributeError) as err:
            print(f"{label:58} skipped: {type(err).__name__} {err}")
            continue
        args, kwargs, torch_call, limit_call = make(rng, F)
        tensors = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
        problem = _differs_from_torch(fn(*args, **kwargs), torch_call(tensors))
        if problem:
            print(f"{label:58} NOT EQUAL to torch: {problem}")
            continue
        timed = {"numpy": [], "limit": [], "torch": []}
        calls = {  # bound now: the loop moves on to other cases
            "numpy": functools.partial(fn, *args, **kwargs),
            "limit": limit_call,
            "torch": functools.partial(torch_call, tensors),
        }
        with torch.no_grad():
            for _ in range(blocks):
                for side, call in calls.items():
                    timed[side].extend(timeit.Timer(call).repeat(repeat=3, number=1))
                    time.sleep(pause)
        n, limit, t = (min(timed[side]) * 1e3 for side in ("numpy", "limit", "torch"))
        medians = {side: round(statistics.median(timed[side]) * 1e3, 3) for side in timed}
        peak = _peak_extra_bytes(calls["numpy"])
        input_bytes = args[0].nbytes
        ratio = n / limit if against == "limit" else n / t
        row = {
            "case": label,
            "numpy_ms": round(n, 3),
            "limit_ms": round(limit, 3),
            "torch_ms": round(t, 3),
            "vs_limit": round(n / limit, 3),
            "vs_torch": round(n / t, 3),
            "target": target,
            "against": against,
            "met": ratio <= target,
            "peak_extra_mib": round(peak / 2**20, 1),
            "peak_extra_inputs": round(peak / input_bytes, 2),
            "median_ms": medians,
        }
        results.append(row)
        print(f"{label:58} {n:7.1f} {limit:7.1f} {t:7.1f} {n / limit:7.2f} {n / t:7.2f} "
              f"{f'{target:.1f}x {against}':>12} {row['peak_extra_mib']:9.1f} "
              f"{'ok' if row['met'] else 'OVER'}")
    return results


def main(args) -> int:
    info = machine()
    blas = ", ".join(f"{b['library']} {b['version']} ({b['architecture']}, {b['threads']} threads)"
                     for b in info["blas"])
    print(
        f"{info['cpu']}, {info['cores']} cores; "
        f"torch {info['torch']} ({info['torch_threads']} threads); "
        f"numpy {info['numpy']}: {blas}"
    )
    print(
        "times in ms (fastest call); limit: NumPy's own bound for the case (one matrix product "
        "with the same multiply-adds, or one pass over the input)"
    )
    results = run(blocks=args.blocks, only=args.only)
    if not args.only:  # a partial run does not replace the book's figures
        RESULTS.write_text(json.dumps({"machine": info, "cases": results}, indent=1) + "\n")
        print(f"written: {RESULTS.relative_to(COURSE_ROOT)}")
    over = [row["case"] for row in results if not row["met"]]
    print(f"targets met: {len(results) - len(over)} of {len(results)}"
          + (f"; over: {'; '.join(over)}" if over else ""))
    return 0
