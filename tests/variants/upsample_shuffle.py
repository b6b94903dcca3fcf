"""Chapter 06c: one-bug versions of pixel_shuffle and pixel_unshuffle, and the bug each
must be caught as."""

import numpy as np


def _channel_axes(channel_major, row_first):
    offsets = ("i", "j") if row_first else ("j", "i")
    return ("c",) + offsets if channel_major else offsets + ("c",)


def _relaid(input, r, *, unshuffle, channel_major=True, row_first=True, interleaved=True,
            flipped=False):
    """The rearrangement as a reshape and a transpose, with the keywords' layout."""
    if input.ndim < 3:
        raise ValueError("needs (*, C, H, W)")
    *lead, c, h, w = input.shape
    n = len(lead)
    channels = _channel_axes(channel_major, row_first)
    spatial = ("h", "i", "w", "j") if interleaved else ("i", "h", "j", "w")
    if unshuffle:
        if h % r or w % r:
            raise ValueError("H and W must be divisible by r")
        sizes = {"c": c, "h": h // r, "w": w // r, "i": r, "j": r}
        source, target = ("c",) + spatial, channels + ("h", "w")
        shape = (c * r * r, h // r, w // r)
    else:
        if c % (r * r):
            raise ValueError("channels not divisible by r²")
        sizes = {"c": c // (r * r), "h": h, "w": w, "i": r, "j": r}
        source, target = channels + ("h", "w"), ("c",) + spatial
        shape = (c // (r * r), h * r, w * r)
    x = input.reshape(*lead, *(sizes[a] for a in source))
    if flipped:
        x = np.flip(x, (n + source.index("i"), n + source.index("j")))
    x = x.transpose(*range(n), *(n + source.index(a) for a in target))
    return x.reshape(*lead, *shape)


def _shuffle(**wrong):
    def shuffle(input, upscale_factor):
        return _relaid(input, upscale_factor, unshuffle=False, **wrong)
    return shuffle


def _unshuffle(**wrong):
    def unshuffle(input, downscale_factor):
        return _relaid(input, downscale_factor, unshuffle=True, **wrong)
    return unshuffle


# The keyword that makes each layout wrong, and the bug it must be caught as.
WRONG = [
    ({"channel_major": False}, "channels-sub-pixel-major"),
    ({"row_first": False}, "sub-pixel-rows-and-columns-swapped"),
    ({"interleaved": False}, "blocks-not-interleaved"),
    ({"flipped": True}, "sub-pixels-flipped"),
]


def catalogue():
    out = []
    for name, make in (("pixel_shuffle", _shuffle), ("pixel_unshuffle", _unshuffle)):
        for wrong, bug in WRONG:
            fn = make(**wrong)
            fn.__name__ = f"{fn.__name__}_{bug.replace('-', '_')}"
            out.append((name, fn, bug))
    return out
