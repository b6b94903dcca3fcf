"""Chapter 08 — batch normalization, the modules: BatchNorm1d, BatchNorm2d, BatchNorm3d.

A module check replays a sequence of ``train()`` / ``eval()`` steps and returns the new
module's flags, its initial parameters and state, then after every step the training
flag, the output and the state (running_mean, running_var, num_batches_tracked).
"""
from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register
from . import _modules
from ._norms import HINTS, shared_bug

MODULE_ARGS = ("num_features",)
SPATIAL = {"BatchNorm1d": (5,), "BatchNorm2d": (3, 4), "BatchNorm3d": (2, 3, 2)}
INPUT_DIMS = {"BatchNorm1d": (2, 3), "BatchNorm2d": (4,), "BatchNorm3d": (5,)}
STATE = ("running_mean", "running_var", "num_batches_tracked")


def module_case(rng: np.random.Generator, cls: str, c: int, steps: list, note: str = "",
                n: int = 3, spatial: tuple | None = None, **options) -> Case:
    """Steps are ('train' | 'eval' | 'train(False)', input); inputs drawn here when given
    as a shape or None (the class's usual shape)."""
    default = SPATIAL[cls] if spatial is None else spatial
    drawn = []
    for mode, x in steps:
        if x is None:
            x = (n, c) + tuple(default)
        if isinstance(x, tuple):
            shift = rng.normal(0.0, 2.0, (1, x[1]) + (1,) * (len(x) - 2))
            x = rng.standard_normal(x) * rng.uniform(0.5, 2.0) + shift
        drawn.append((mode, x))
    extra = {"steps": drawn, "weight": rng.normal(1.0, 0.5, c), "bias": rng.normal(0.0, 1.0, c)}
    return Case((c,), options, note=note, extra=extra)


def _state(module) -> list:
    """What the student's module holds after a step, as plain arrays."""
    if getattr(module, "running_mean", None) is None:
        return []
    return [np.asarray(module.running_mean).copy(), np.asarray(module.running_var).copy(),
            np.asarray(module.num_batches_tracked)]


def _set_mode(module, mode):
    if mode == "train":
        module.train()
    elif mode == "eval":
        module.eval()
    else:
        module.train(False)


def _module_run(cls, case):
    """Build the student's module, record its initial state, replay the steps."""
    module = _modules.build(cls, case)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    out = [np.asarray(weight is not None), np.asarray(bias is not None),
           np.asarray(getattr(module, "running_mean", None) is not None),
           np.asarray(bool(getattr(module, "training", None)))]
    out += [np.asarray(value) for value in (weight, bias) if value is not None]
    _modules.load(module, {"weight": case.extra["weight"], "bias": case.extra["bias"]})
    out += _state(module)
    for mode, x in case.extra["steps"]:
        _set_mode(module, mode)
        out.append(np.asarray(bool(module.training)))
        out.append(module(x.copy()))
        out += _state(module)
    return tuple(out)


def _torch_state(module) -> list:
    if module.running_mean is None:
        return []
    return [oracle.to_numpy(getattr(module, name)) for name in STATE]


def _module_reference(torch_name, case):
    t = oracle.torch()
    module = _modules.torch_build(torch_name, case)
    out = [np.asarray(module.weight is not None), np.asarray(module.bias is not None),
           np.asarray(module.running_mean is not None), np.asarray(module.training)]
    out += [oracle.to_numpy(p) for p in (module.weight, module.bias) if p is not None]
    _modules.torch_load(module, {"weight": case.extra["weight"], "bias": case.extra["bias"]})
    out += _torch_state(module)
    with t.no_grad():
        for mode, x in case.extra["steps"]:
            _set_mode(module, mode)
            out.append(np.asarray(module.training))
            out.append(oracle.call(module, x))
            out += _torch_state(module)
    return tuple(out)


def _rebuilt(torch_name, case, **changes):
    """torch's answer for the module built with ``changes`` to its options."""
    return _module_reference(torch_name, Case(case.args, dict(case.kwargs, **changes),
                                              extra=case.extra))


def _simulated(case, *, momentum_flipped=False, biased_running_var=False,
               eval_batch_stats=False, always_training=False, momentum_none_as=None,
               count_offset=0, counted=True):
    """The module's steps replayed with F.batch_norm, with one thing changed: the momentum
    convention, the running variance, eval() ignored (``always_training``) or using the
    batch's statistics, the factor momentum=None gives (``momentum_none_as``, or
    1 / (num_batches_tracked + ``count_offset``)), num_batches_tracked not ``counted``."""
    t = oracle.torch()
    F = oracle.F()
    opts = dict(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, bias=True)
    opts.update(case.kwargs)
    c = case.args[0]
    affine, track, momentum = opts["affine"], opts["track_running_stats"], opts["momentum"]
    has_bias = affine and opts["bias"]
    weight = t.from_numpy(case.extra["weight"]) if affine else None
    bias = t.from_numpy(case.extra["bias"]) if has_bias else None
    out = [np.asarray(affine), np.asarray(has_bias), np.asarray(track), np.asarray(True)]
    out += [np.ones(c)] * affine + [np.zeros(c)] * has_bias
    rm, rv, nbt = t.zeros(c, dtype=t.float64), t.ones(c, dtype=t.float64), 0
    if track:
        out += [rm.numpy().copy(), rv.numpy().copy(), np.asarray(nbt)]
    for mode, x in case.extra["steps"]:
        training = mode == "train" or always_training
        xt = t.from_numpy(x)
        factor = 0.0
        if training and track:
            nbt += 1
            if momentum is None:
                factor = momentum_none_as or 1.0 / (nbt + count_offset)
            else:
                factor = 1.0 - momentum if momentum_flipped else momentum
        batch_stats = training or not track or eval_batch_stats
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if batch_stats and not (training and track):
                y = F.batch_norm(xt, None, None, weight, bias, True, 0.0, opts["eps"])
            else:
                old_rv = rv.clone()
                y = F.batch_norm(xt, rm, rv, weight, bias, batch_stats, factor, opts["eps"])
                if training and biased_running_var:
                    var = xt.var(dim=[0] + list(range(2, x.ndim)), unbiased=False)
                    rv.copy_((1 - factor) * old_rv + factor * var)
        # The flag a student's train()/eval() sets; the bug is in forward ignoring it.
        out.append(np.asarray(mode == "train"))
        out.append(y.numpy())
        if track:
            out += [rm.numpy().copy(), rv.numpy().copy(), np.asarray(nbt if counted else 0)]
    return tuple(out)


def _tracks(case) -> bool:
    return case.kwargs.get("track_running_stats", True)


def _train_steps(case) -> int:
    return sum(mode == "train" for mode, _ in case.extra["steps"])


def _evaluates(case) -> bool:
    """Tracks running statistics and has a step out of training mode."""
    return _tracks(case) and _train_steps(case) < len(case.extra["steps"])


def _momentum_none(case) -> bool:
    return case.kwargs.get("momentum", 0.1) is None and _tracks(case)


def _module_bugs(torch_name):
    return [
        shared_bug("momentum-0.9-convention",
                   lambda case: _simulated(case, momentum_flipped=True),
                   when=lambda case: _tracks(case) and _train_steps(case) > 0
                   and case.kwargs.get("momentum", 0.1) not in (None, 0.5)),
        shared_bug("biased-running-variance",
                   lambda case: _simulated(case, biased_running_var=True),
                   when=lambda case: _tracks(case) and _train_steps(case) > 0
                   and case.kwargs.get("momentum", 0.1) != 0.0),
        shared_bug("eval-uses-input-statistics",
                   lambda case: _simulated(case, eval_batch_stats=True), when=_evaluates),
        Bug("train-eval-ignored",
            "train() and eval() must change what the module does: set self.training and use "
            "it in forward", lambda case: _simulated(case, always_training=True),
            when=_evaluates),
        Bug("momentum-none-as-0.1",
            "momentum=None means a cumulative moving average: the update factor is "
            "1 / num_batches_tracked (1, 1/2, 1/3, ...), counted after incrementing "
            "num_batches_tracked", lambda case: _simulated(case, momentum_none_as=0.1),
            when=lambda case: _momentum_none(case) and _train_steps(case) > 1),
        Bug("cumulative-average-off-by-one",
            "momentum=None: increment num_batches_tracked first, then update with the factor "
            "1 / num_batches_tracked (1 on the first training step, then 1/2, 1/3, ...)",
            lambda case: _simulated(case, count_offset=1),
            when=lambda case: _momentum_none(case) and _train_steps(case) > 0),
        Bug("num-batches-tracked-not-counted",
            "num_batches_tracked counts the training steps: add 1 on every forward in "
            "training mode (when tracking running statistics)",
            lambda case: _simulated(case, counted=False),
            when=lambda case: _tracks(case) and _train_steps(case) > 0),
        shared_bug("parameters-with-affine-false",
                   lambda case: _rebuilt(torch_name, case, affine=True),
                   when=lambda case: not case.kwargs.get("affine", True)),
        shared_bug("running-statistics-without-tracking",
                   lambda case: _rebuilt(torch_name, case, track_running_stats=True),
                   when=lambda case: not _tracks(case)),
    ]


PARAMETERS_MISSING = Hint("parameters-missing", "with affine=True weight starts as ones(C), "
                          "and bias as zeros(C) unless bias=False")
RUNNING_STATISTICS_MISSING = Hint(
    "running-statistics-missing", "with track_running_stats=True the module holds "
    "running_mean = zeros(C), running_var = ones(C) and num_batches_tracked = 0")
NOT_TRAINING_AT_FIRST = Hint("new-module-not-in-training-mode",
                             "a new module is in training mode: self.training = True")


def _module_diagnose(case, got, expected):
    """Which of the new module's flags is wrong, or else the first value that differs."""
    if not isinstance(got, tuple) or len(got) < 4:
        return None
    flags = [bool(np.asarray(v)) for v in got[:4]]
    if flags[0] != bool(expected[0]) or flags[1] != bool(expected[1]):
        if not case.kwargs.get("affine", True):
            return Hint("parameters-with-affine-false", HINTS["parameters-with-affine-false"])
        return PARAMETERS_MISSING
    if flags[2] != bool(expected[2]):
        if not _tracks(case):
            return Hint("running-statistics-without-tracking",
                        HINTS["running-statistics-without-tracking"])
        return RUNNING_STATISTICS_MISSING
    if not flags[3]:
        return NOT_TRAINING_AT_FIRST
    return _modules.first_difference(_labels(case, expected), got, expected)


def _labels(case, expected) -> list[str]:
    """What each entry of the module run's tuple is, in words, from torch's answer."""
    labels = ["has weight", "has bias", "has running statistics", "training flag of a new module"]
    labels += ["initial weight"] * bool(expected[0]) + ["initial bias"] * bool(expected[1])
    state = list(STATE) if bool(expected[2]) else []
    labels += [f"initial {s}" for s in state]
    for i, (mode, _) in enumerate(case.extra["steps"], 1):
        step = f"step {i} ({mode})"
        labels += [f"training flag after {mode}", f"output of {step}"]
        labels += [f"{s} after {step}" for s in state]
    return labels


def _module_visible(name, rng):
    c = 3
    return [
        module_case(rng, name, c, [("train", None), ("train", None), ("eval", None)],
                    note="defaults: two training steps, then eval"),
        module_case(rng, name, c, [("train", None), ("train", None), ("train", None),
                                   ("eval", None)], momentum=None,
                    note="momentum=None: cumulative average of the batch statistics"),
        module_case(rng, name, 2, [("train", None), ("eval", None)], affine=False,
                    track_running_stats=False,
                    note="affine=False, track_running_stats=False: batch statistics in eval too"),
    ]


def _module_hidden(name, rng):
    out = []
    modes = ["train", "eval", "train(False)"]
    for momentum, affine, track in itertools.product((0.1, 0.5, 0.0, 1.0, None),
                                                     (True, False), (True, False)):
        c = int(rng.integers(1, 5))
        steps = [("train", None)] + [(modes[int(rng.integers(0, 3))], None)
                                     for _ in range(3)] + [("train", None), ("eval", None)]
        options = dict(momentum=momentum, affine=affine, track_running_stats=track)
        if rng.integers(0, 2):
            options["eps"] = 1e-3
        out.append(module_case(rng, name, c, steps, n=int(rng.integers(2, 4)),
                               note=f"momentum={momentum}, affine={affine}, "
                                    f"track_running_stats={track}, "
                                    f"steps {', '.join(m for m, _ in steps)}",
                               **options))
    wrong_dim = {"BatchNorm1d": (2, 3, 4, 4), "BatchNorm2d": (3, 4, 4),
                 "BatchNorm3d": (2, 3, 4, 4)}[name]
    takes = " or ".join(f"{d}-D" for d in INPUT_DIMS[name])
    out += [
        module_case(rng, name, 3, [("eval", None), ("eval", None)],
                    note="eval before any training: the initial running statistics"),
        module_case(rng, name, 3, [("train", None), ("eval", None)], bias=False,
                    note="affine=True, bias=False: a weight and no bias"),
        module_case(rng, name, 3, [("train", None), ("train", None), ("eval", None)],
                    momentum=None, track_running_stats=False,
                    note="momentum=None without tracking: nothing to average"),
        module_case(rng, name, 2, [("train", (1, 2) + SPATIAL[name]), ("eval", None)],
                    note="batch size 1 with spatial dims"),
        refused(module_case(rng, name, 3, [("train", wrong_dim)],
                            note=f"{len(wrong_dim)}-D input"), f"{name} takes {takes} input"),
    ]
    one_value = "training needs more than one value per channel"
    if name == "BatchNorm1d":
        out += [
            module_case(rng, name, 4, [("train", (5, 4)), ("train", (2, 4, 3)),
                                       ("eval", (3, 4))],
                        note="(N, C) and (N, C, L) inputs in one module"),
            module_case(rng, name, 3, [("eval", (1, 3))],
                        note="one sample in eval (torch accepts it)"),
            refused(module_case(rng, name, 3, [("train", (1, 3))],
                                note="one sample in training: one value per channel"),
                    one_value),
        ]
    else:
        one_position = (1, 3) + (1,) * len(SPATIAL[name])
        out.append(refused(module_case(rng, name, 3, [("train", one_position)],
                                       note="one value per channel in training"), one_value))
    return out


for _name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
    register(Exercise(
        name=_name, arg_names=MODULE_ARGS, visible=functools.partial(_module_visible, _name),
        hidden=functools.partial(_module_hidden, _name),
        reference=functools.partial(_module_reference, _name), bugs=_module_bugs(_name),
        run=_module_run, diagnose=_module_diagnose,
    ))
