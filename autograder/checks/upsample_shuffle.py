"""Chapter 06c — sub-pixel convolution's rearrangements: pixel_shuffle and pixel_unshuffle.

Expected values come from torch; the known bugs are other layouts, each a torch reshape
and permutation of the input with one thing done wrong.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register


def shuffle_case(rng: np.random.Generator, shape: tuple, factor: int, note="") -> Case:
    """One call on a random input of ``shape`` with the given factor."""
    return Case((rng.standard_normal(shape), factor), {}, note=note)


def _shuffle_visible(rng):
    return [
        Case((np.arange(8.0).reshape(1, 8, 1, 1), 2), {},
             note="8 channels of one pixel → 2 channels of 2×2"),
        shuffle_case(rng, (2, 9, 2, 3), 3, note="factor 3"),
    ]


def _shuffle_hidden(rng):
    out = []
    for r, lead in itertools.product((1, 2, 3), ((), (2,), (2, 1), (1, 2, 2))):
        c = r * r * int(rng.integers(1, 3))
        out.append(shuffle_case(rng, lead + (c, int(rng.integers(1, 4)),
                                             int(rng.integers(1, 4))), r,
                                note=f"factor {r}, {len(lead) + 3}-D input"))
    out += [
        refused(shuffle_case(rng, (1, 6, 2, 2), 2, note="6 channels, factor 2"),
                "the channels must be divisible by factor² = 4"),
        refused(shuffle_case(rng, (4, 2), 2, note="a 2-D input"), "it needs (*, C, H, W)"),
    ]
    return out


def _unshuffle_visible(rng):
    return [
        Case((np.arange(8.0).reshape(1, 2, 2, 2), 2), {},
             note="2 channels of 2×2 → 8 channels of one pixel"),
        shuffle_case(rng, (2, 1, 6, 3), 3, note="factor 3"),
    ]


def _unshuffle_hidden(rng):
    out = []
    for r, lead in itertools.product((1, 2, 3), ((), (2,), (2, 1), (1, 2, 2))):
        out.append(shuffle_case(rng, lead + (int(rng.integers(1, 3)), r * int(rng.integers(1, 4)),
                                             r * int(rng.integers(1, 4))), r,
                                note=f"factor {r}, {len(lead) + 3}-D input"))
    out += [
        refused(shuffle_case(rng, (1, 1, 4, 3), 2, note="width 3, factor 2"),
                "H and W must be divisible by the factor"),
        refused(shuffle_case(rng, (4, 2), 2, note="a 2-D input"), "it needs (*, C, H, W)"),
    ]
    return out


def _channel_axes(channel_major: bool, row_first: bool) -> tuple:
    """How the r²·C channels split: (c, i, j) is torch's c·r² + i·r + j."""
    offsets = ("i", "j") if row_first else ("j", "i")
    return ("c",) + offsets if channel_major else offsets + ("c",)


def _relaid(case: Case, *, unshuffle: bool, channel_major=True, row_first=True,
            interleaved=True, flipped=False):
    """pixel_shuffle (or pixel_unshuffle) as a torch reshape and permutation; each keyword
    set the other way is one wrong layout: sub-pixel-major channels, j before i, r × r whole
    images side by side instead of interleaved sub-pixels, sub-pixel offsets counted from
    the other end."""
    t = oracle.torch()
    x, r = case.args
    xt = t.from_numpy(x.copy())
    lead = tuple(x.shape[:-3])
    n = len(lead)
    c, h, w = x.shape[-3:]
    channels = _channel_axes(channel_major, row_first)
    spatial = ("h", "i", "w", "j") if interleaved else ("i", "h", "j", "w")
    if unshuffle:
        sizes = {"c": c, "h": h // r, "w": w // r, "i": r, "j": r}
        source, target = ("c",) + spatial, channels + ("h", "w")
        shape = (c * r * r, h // r, w // r)
    else:
        sizes = {"c": c // (r * r), "h": h, "w": w, "i": r, "j": r}
        source, target = channels + ("h", "w"), ("c",) + spatial
        shape = (c // (r * r), h * r, w * r)
    y = xt.reshape(lead + tuple(sizes[a] for a in source))
    if flipped:
        y = y.flip(n + source.index("i"), n + source.index("j"))
    y = y.permute(*range(n), *(n + source.index(a) for a in target))
    return y.reshape(lead + shape).numpy()


def _bugs(unshuffle: bool) -> list[Bug]:
    """The known wrong layouts of pixel_shuffle (or pixel_unshuffle)."""
    def fits(case):
        x, r = case.args
        if r == 1 or x.ndim < 3:
            return False
        c, h, w = x.shape[-3:]
        return not (h % r or w % r) if unshuffle else not c % (r * r)

    def relaid(**wrong):
        return lambda case: _relaid(case, unshuffle=unshuffle, **wrong)

    return [
        Bug("channels-sub-pixel-major",
            "channel c·r² + i·r + j is sub-pixel (i, j) of channel c: the channel index is "
            "c-major; you made it sub-pixel-major, (i·r + j)·C + c",
            relaid(channel_major=False), when=fits),
        Bug("sub-pixel-rows-and-columns-swapped",
            "within a block of r² channels, i (the row offset) comes before j (the column "
            "offset): channel c·r² + i·r + j",
            relaid(row_first=False), when=fits),
        Bug("blocks-not-interleaved",
            "the sub-pixels are interleaved: output row h·r + i, not i·H + h (you tiled r × r "
            "whole images side by side)",
            relaid(interleaved=False), when=fits),
        Bug("sub-pixels-flipped",
            "sub-pixel offset i = 0 is the top row of each r × r block (and j = 0 the left "
            "column): you counted from the other end",
            relaid(flipped=True), when=fits),
    ]


register(Exercise(
    name="pixel_shuffle", arg_names=("input", "upscale_factor"), visible=_shuffle_visible,
    hidden=_shuffle_hidden,
    reference=lambda case: oracle.call(oracle.F().pixel_shuffle, *case.args),
    bugs=_bugs(unshuffle=False),
))
register(Exercise(
    name="pixel_unshuffle", arg_names=("input", "downscale_factor"), visible=_unshuffle_visible,
    hidden=_unshuffle_hidden,
    reference=lambda case: oracle.call(oracle.F().pixel_unshuffle, *case.args),
    bugs=_bugs(unshuffle=True),
))
