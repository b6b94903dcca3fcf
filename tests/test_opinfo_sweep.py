"""The reference answers against torch's own test inputs.

torch tests each operator on the samples of its OpInfo (``op_db``) and each module on
those of its ModuleInfo (``module_db``). Every CPU sample of every forward operator the
book grades is run here through the reference answer in ``solutions/``, loaded by its
``torch.nn.functional`` name, in float64 and in float32, and judged as a student's answer
is: where torch computes, the same values within chapter 00's tolerance and the same
dtype (``compare.compare``); where torch refuses, a ValueError (a TypeError where torch's
is one). No sample is skipped.

Operators without an OpInfo (``lp_pool1d/2d/3d``) are swept through their module's
samples (``LPPool1d(norm_type, kernel_size, ...)`` is ``lp_pool1d(input, norm_type,
kernel_size, ...)``); ``fractional_max_pool2d/3d`` through their OpInfo samples with
``_random_samples`` drawn here (torch draws them at random otherwise) and through their
module's samples, which carry their own. ``fold`` has neither in torch 2.13.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from booktools import solution

from autograder import compare

# Each graded operator: the chapter whose reference answer is its fullest form (chapter
# 02's conv2d has groups and dilation, chapter 01's does not).
CHAPTER = {
    **dict.fromkeys(("conv1d", "conv2d", "conv3d"), "02_groups_dilation"),
    "pad": "01_convolution",
    **dict.fromkeys(("unfold", "fold"), "03_fold_unfold"),
    **dict.fromkeys(("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
                    "04_transposed_convolution"),
    **dict.fromkeys(("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d",
                     "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
                     "fractional_max_pool2d", "fractional_max_pool3d"), "05_pooling"),
    **dict.fromkeys(("max_unpool1d", "max_unpool2d", "max_unpool3d", "interpolate",
                     "pixel_shuffle", "pixel_unshuffle"), "06_unpooling_upsampling"),
    **dict.fromkeys(("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
                     "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"),
                    "07_adaptive_pooling"),
    "batch_norm": "08_batch_norm",
    **dict.fromkeys(("layer_norm", "rms_norm"), "09_layer_rms_norm"),
    **dict.fromkeys(("instance_norm", "group_norm"), "10_instance_group_norm"),
    "local_response_norm": "11_local_response_norm",
}
# Swept through torch.nn modules' samples: module class -> functional name.
MODULES = {"LPPool1d": "lp_pool1d", "LPPool2d": "lp_pool2d", "LPPool3d": "lp_pool3d",
           "FractionalMaxPool2d": "fractional_max_pool2d",
           "FractionalMaxPool3d": "fractional_max_pool3d"}
DTYPES = ("float64", "float32")


@functools.cache
def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


@functools.cache
def _op_db():
    from torch.testing._internal.common_methods_invocations import op_db

    return op_db


@functools.cache
def _module_db():
    from torch.testing._internal.common_modules import module_db

    return module_db


def _numpy(value):
    """Tensors become NumPy arrays (their dtype kept), inside tuples, lists and dicts."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, tuple):
        return tuple(_numpy(v) for v in value)
    if isinstance(value, list):
        return [_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return value


def _calls(name, dtype):
    """(description, torch's call, args, kwargs) for every CPU sample of ``name``."""
    torch = _torch()
    tdtype = getattr(torch, dtype)
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    for op in _op_db():
        if op.name != f"nn.functional.{name}" or tdtype not in op.supported_dtypes("cpu"):
            continue
        for i, s in enumerate(op.sample_inputs("cpu", tdtype, requires_grad=False)):
            args, kwargs = (s.input, *s.args), dict(s.kwargs)
            if name.startswith("fractional_max_pool") and "_random_samples" not in kwargs:
                # torch draws the windows at random unless it is given them: (N, C, d).
                x, d = s.input, int(name[-2])
                n = x.shape[0] if x.dim() == d + 2 else 1
                kwargs["_random_samples"] = torch.rand(n, x.shape[-d - 1], d, generator=gen,
                                                       dtype=tdtype)
            yield (f"{op.name}[{op.variant_test_name}] sample {i}",
                   functools.partial(getattr(F, name), *args, **kwargs), args, kwargs)
    for info in _module_db():
        cls = info.module_cls.__name__
        if MODULES.get(cls) != name or tdtype not in info.dtypes:
            continue
        for i, m in enumerate(info.module_inputs_func(info, device="cpu", dtype=tdtype,
                                                      requires_grad=False, training=False)):
            if m.forward_input is None:
                continue
            ctor, fwd = m.constructor_input, m.forward_input
            # torch's answer is the module's (it normalizes its arguments, e.g. a float
            # output_ratio to a pair); the book's function gets the module's arguments.
            module = info.module_cls(*ctor.args, **ctor.kwargs)
            yield (f"{cls} sample {i}", functools.partial(module, *fwd.args, **fwd.kwargs),
                   (*fwd.args, *ctor.args), {**ctor.kwargs, **fwd.kwargs})


def sweep(name, dtype):
    """(samples, failures) of the reference answer ``name`` on torch's samples in ``dtype``."""
    fn = getattr(solution(CHAPTER[name]), name)
    failures, count = [], 0
    for what, torch_call, args, kwargs in _calls(name, dtype):
        count += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected, refusal = _numpy(torch_call()), None
        except (RuntimeError, ValueError, NotImplementedError, IndexError, TypeError) as err:
            expected, refusal = None, err
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got, raised = fn(*_numpy(args), **_numpy(kwargs)), None
        except Exception as err:  # noqa: BLE001 - every failure is reported below
            got, raised = None, err
        shapes = [tuple(a.shape) if hasattr(a, "shape") else a for a in args]
        call = f"{what}: {name}{tuple(shapes)} {_numpy(kwargs) if len(str(kwargs)) < 200 else ''}"
        if refusal is not None:
            allowed = (ValueError, TypeError) if isinstance(refusal, TypeError) else (ValueError,)
            if not isinstance(raised, allowed):
                failures.append(f"{call}: torch refuses ({type(refusal).__name__}: "
                                f"{str(refusal).splitlines()[0][:120]}), the book "
                                + (f"raised {type(raised).__name__}" if raised else "computed"))
        elif raised is not None:
            failures.append(f"{call}: torch computes, the book raised "
                            f"{type(raised).__name__}: {str(raised)[:160]}")
        else:
            problem = compare.compare(expected, got)
            if problem is not None:
                failures.append(f"{call}: {problem.summary} {problem.detail}")
    return count, failures


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(set(CHAPTER) - {"fold"}))
def test_reference_answer_matches_torch_on_its_own_samples(name, dtype):
    count, failures = sweep(name, dtype)
    assert count > 0, f"torch has no {dtype} samples of {name}: the sweep tests nothing"
    assert not failures, f"{len(failures)} of {count} samples:\n" + "\n".join(failures[:20])
