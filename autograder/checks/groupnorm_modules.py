"""Chapter 10 — instance and group normalization, the modules: InstanceNorm1d/2d/3d and
GroupNorm (the functions are in ``groupnorm``).

A module check builds the student's class, reports whether each of weight, bias,
running_mean and running_var exists and its shape, gives it torch's weight and bias, then
calls it in train() or eval() mode, step by step, and reports every output and the running
statistics after the last step.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from . import _modules
from ._norms import normal, shared_bug

PARAMS = ("weight", "bias", "running_mean", "running_var")
STATS = ("running_mean", "running_var")


def module_case(rng: np.random.Generator, args: tuple, x_shape: tuple | list,
                steps: tuple = ("train", "train", "eval"), note: str = "", **options) -> Case:
    """The module built with ``args`` and ``options``, called once per step ("train" or
    "eval") on an input of ``x_shape`` (or of the list's shape for that step)."""
    c = args[-1] if len(args) == 2 else args[0]
    x_shapes = x_shape if isinstance(x_shape, list) else [x_shape] * len(steps)
    return Case(tuple(args), options, note=note, extra={
        "weight": normal(rng, c, 0.5, 1.0), "bias": normal(rng, c),
        "steps": [(mode, normal(rng, shape, float(rng.uniform(0.5, 3)), float(rng.normal())))
                  for mode, shape in zip(steps, x_shapes, strict=True)]})


def _params(case) -> dict:
    return {"weight": case.extra["weight"], "bias": case.extra["bias"]}


def _module_run(cls, case):
    """Build, report the parameters' presence and shapes, set weight/bias, run the steps.

    Returns (has/shape for weight, bias, running_mean, running_var), one output per
    step, then the running statistics after the last step (empty when there are none).
    """
    module = _modules.build(cls, case)
    report = sum((_modules.probe(module, name) for name in PARAMS), ())
    _modules.load(module, _params(case))
    outputs = []
    for mode, x in case.extra["steps"]:
        if mode == "train":
            module.train()
        else:
            module.eval()
        outputs.append(module(x.copy()))
    stats = tuple(np.zeros(0) if getattr(module, name, None) is None else getattr(module, name)
                  for name in STATS)
    return report + tuple(outputs) + stats


def _module_reference(torch_name, case, *, always_training=False, cumulative=False):
    """torch's answer; or, with ``always_training``, its answer when eval() changes nothing,
    and with ``cumulative``, when the momentum of step k is 1 / k."""
    module = _modules.torch_build(torch_name, case)
    report = sum((_modules.torch_probe(module, name) for name in PARAMS), ())
    _modules.torch_load(module, _params(case))
    outputs = []
    for step, (mode, x) in enumerate(case.extra["steps"]):
        module.train(mode == "train" or always_training)
        if cumulative:
            module.momentum = 1.0 / (step + 1)
        outputs.append(oracle.call(module, x))
    stats = tuple(np.zeros(0) if getattr(module, name, None) is None
                  else getattr(module, name).numpy().copy() for name in STATS)
    return report + tuple(outputs) + stats


def _rebuilt(torch_name, case, **changes):
    """torch's answer for the module built with ``changes`` to its options."""
    return _module_reference(torch_name, Case(case.args, dict(case.kwargs, **changes),
                                              extra=case.extra))


def _module_diagnose(case, got, expected):
    """Which of the module check's outputs is the first to differ from torch's."""
    steps = [mode for mode, _ in case.extra["steps"]]
    labels = _modules.probe_labels(*PARAMS)
    labels += [f"the output of call {i + 1}, made in {mode}() mode" for i, mode in enumerate(steps)]
    labels += [f"self.{name} after the calls" for name in STATS]
    return _modules.first_difference(labels, got, expected)


# InstanceNorm1d / 2d / 3d ---------------------------------------------------------------
def _tracks(case) -> bool:
    return bool(case.kwargs.get("track_running_stats", False))


def _in_module_bugs(torch_name):
    return [
        shared_bug("parameters-with-affine-false",
                   lambda case: _rebuilt(torch_name, case, affine=True),
                   when=lambda case: not case.kwargs.get("affine", False)),
        shared_bug("eval-uses-input-statistics",
                   lambda case: _module_reference(torch_name, case, always_training=True),
                   when=_tracks),
        Bug("momentum-none-as-a-cumulative-average",
            "InstanceNorm passes momentum=None on as 0.0: the running statistics stay where "
            "they are (unlike BatchNorm's cumulative average)",
            lambda case: _module_reference(torch_name, case, cumulative=True),
            when=lambda case: case.kwargs.get("momentum", 0.1) is None and _tracks(case)),
        shared_bug("running-statistics-without-tracking",
                   lambda case: _rebuilt(torch_name, case, track_running_stats=True),
                   when=lambda case: not _tracks(case)),
    ]


def _in_module_visible(spatial, rng):
    return [
        module_case(rng, (3,), (2, 3) + spatial, note="defaults: no parameters, "
                    "no running statistics, train then eval"),
        module_case(rng, (2,), (2, 2) + spatial, affine=True, track_running_stats=True,
                    note="affine and running statistics: eval uses them"),
    ]


def _in_module_hidden(spatial, rng):
    out = []
    for affine in (False, True):
        for track in (False, True):
            for momentum in (0.1, 0.5, None):
                c = int(rng.integers(1, 4))
                n = int(rng.integers(1, 4))
                out.append(module_case(rng, (c,), (n, c) + spatial, affine=affine,
                                       track_running_stats=track, momentum=momentum,
                                       eps=[1e-5, 1e-3][int(rng.integers(0, 2))],
                                       note=f"affine={affine}, track_running_stats={track}, "
                                            f"momentum={momentum}"))
    out += [
        module_case(rng, (3,), (3,) + spatial, affine=True, track_running_stats=True,
                    note="unbatched input (C, *spatial)"),
        module_case(rng, (2,), (2, 2) + spatial, affine=True, bias=False,
                    note="affine=True, bias=False: a weight, no bias"),
        module_case(rng, (4,), (2, 3) + spatial,
                    note="num_features does not match and affine=False: torch only warns"),
        refused(module_case(rng, (3,), (2, 4) + spatial, affine=True,
                            note="num_features does not match with affine=True"),
                "weight and bias have num_features values, the input another channel count"),
        refused(module_case(rng, (3,), (2, 3) + spatial + (2,),
                            note=f"a {len(spatial) + 3}-D input"),
                f"InstanceNorm{len(spatial)}d takes {len(spatial) + 1}-D or "
                f"{len(spatial) + 2}-D input"),
        module_case(rng, (2,), (2, 2) + (1,) * len(spatial), track_running_stats=True,
                    steps=("eval",), note="one position, eval with running statistics"),
    ]
    return out


for _name, _spatial in {"InstanceNorm1d": (6,), "InstanceNorm2d": (4, 3),
                        "InstanceNorm3d": (3, 2, 3)}.items():
    register(Exercise(
        name=_name, arg_names=("num_features",),
        visible=functools.partial(_in_module_visible, _spatial),
        hidden=functools.partial(_in_module_hidden, _spatial),
        reference=functools.partial(_module_reference, _name),
        bugs=_in_module_bugs(_name), run=_module_run, diagnose=_module_diagnose,
    ))


# GroupNorm ------------------------------------------------------------------------------
def _gn_affine(case) -> bool:
    return bool(case.kwargs.get("affine", True))


def _gn_bias(case) -> bool:
    return bool(case.kwargs.get("bias", True))


def _per_group(case):
    """torch's answer, but weight (and bias) of shape (num_groups,)."""
    g = case.args[0]
    report = list(_module_reference("GroupNorm", case))
    report[1] = np.array([g])
    if _gn_bias(case):
        report[3] = np.array([g])
    return tuple(report)


GN_MODULE_BUGS = [
    Bug("no-parameters-by-default",
        "GroupNorm's affine defaults to True: weight (ones) and bias (zeros) of shape "
        "(num_channels,)", lambda case: _rebuilt("GroupNorm", case, affine=False),
        when=lambda case: _gn_affine(case) and _gn_bias(case)),
    shared_bug("parameters-with-affine-false",
               lambda case: _rebuilt("GroupNorm", case, affine=True),
               when=lambda case: not _gn_affine(case)),
    shared_bug("bias-with-bias-false", lambda case: _rebuilt("GroupNorm", case, bias=True),
               when=lambda case: not _gn_bias(case) and _gn_affine(case)),
    Bug("parameters-per-group",
        "weight and bias have one value per CHANNEL, shape (num_channels,), not one per group",
        _per_group,
        when=lambda case: case.args[0] != case.args[1] and _gn_affine(case)
        and case.args[1] % case.args[0] == 0),
]


def _gn_module_visible(rng):
    return [
        module_case(rng, (2, 4), (2, 4, 3, 3), steps=("train", "eval"), note="defaults"),
        module_case(rng, (3, 6), (2, 6, 5), steps=("train",), affine=False, eps=1e-3,
                    note="no parameters"),
    ]


def _gn_module_hidden(rng):
    out = []
    for g, c in ((1, 4), (2, 4), (4, 4), (3, 6), (2, 8)):
        for affine, bias in ((True, True), (True, False), (False, True)):
            spatial = [(), (5,), (3, 4), (2, 2, 3)][int(rng.integers(0, 4))]
            out.append(module_case(rng, (g, c), (2, c) + spatial, steps=("train", "eval"),
                                   affine=affine, bias=bias,
                                   note=f"GroupNorm({g}, {c}), affine={affine}, bias={bias}"))
    out += [
        module_case(rng, (8, 32), (2, 32, 4, 4), steps=("train",),
                    note="GroupNorm(8, 32) keeps the shape"),
        refused(module_case(rng, (3, 4), (2, 4, 3), steps=("train",),
                            note="4 channels in 3 groups"),
                "num_groups must divide num_channels"),
    ]
    return out


register(Exercise(
    name="GroupNorm", arg_names=("num_groups", "num_channels"), visible=_gn_module_visible,
    hidden=_gn_module_hidden, reference=functools.partial(_module_reference, "GroupNorm"),
    bugs=GN_MODULE_BUGS, run=_module_run, diagnose=_module_diagnose,
))
