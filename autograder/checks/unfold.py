"""Chapter 03 — Fold and Unfold: unfold (im2col), fold (col2im), conv2d through unfold and
a matrix product, and the matrix of a convolution.

Expected values come from ``torch.nn.functional.unfold`` / ``fold`` / ``conv2d``; the
matrix of a convolution is measured by running torch's conv2d on unit basis images.
The known bugs are computed with torch too.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from . import groups as _groups
from ._shapes import expand, window_out_size


def _options(dilation, padding, stride) -> dict:
    """The keyword arguments that differ from their defaults."""
    kwargs = {}
    for name, value, default in (("dilation", dilation, 1), ("padding", padding, 0),
                                 ("stride", stride, 1)):
        if value != default:
            kwargs[name] = value
    return kwargs


def _window_options(case: Case) -> tuple:
    """(dilation, padding, stride) of an unfold or fold case, each as an (H, W) pair."""
    return tuple(expand(case.kwargs.get(name, default), 2)
                 for name, default in (("dilation", 1), ("padding", 0), ("stride", 1)))


# unfold -------------------------------------------------------------------------------
UNFOLD_ARGS = ("input", "kernel_size", "dilation", "padding", "stride")


def unfold_case(rng: np.random.Generator, shape: tuple, kernel_size, dilation=1, padding=0,
                stride=1, note="") -> Case:
    """unfold of a random input of ``shape``; options at their defaults are left out."""
    x = rng.standard_normal(shape)
    return Case((x, kernel_size), _options(dilation, padding, stride),
                note=note or f"kernel_size={kernel_size!r}, dilation={dilation!r}, "
                             f"padding={padding!r}, stride={stride!r}")


def _unfold_visible(rng):
    return [
        unfold_case(rng, (1, 1, 4, 4), 2, note="one 4×4 channel, 2×2 windows"),
        unfold_case(rng, (2, 3, 5, 4), (2, 3), note="three channels, a 2×3 kernel"),
        unfold_case(rng, (1, 2, 5, 5), 3, padding=1, stride=2, note="padding 1, stride 2"),
        unfold_case(rng, (1, 2, 7, 6), 2, dilation=2, note="dilation 2"),
    ]


def _half_of_grid(rng, kernels, dilations, paddings, strides):
    """About half of the (kernel, dilation, padding, stride) grid, a fair coin each; lazily,
    so the coin and the case's own draws interleave on ``rng`` as the cases are built."""
    for combination in itertools.product(kernels, dilations, paddings, strides):
        if rng.random() >= 0.5:
            yield combination


def _unfold_hidden(rng):
    out = []
    grid = _half_of_grid(rng, [1, 2, 3, (2, 3)], [1, 2, (1, 3)], [0, 1, (2, 0)], [1, 2, (2, 1)])
    for k, d, p, s in grid:
        kh, kw = expand(k, 2)
        dh, dw = expand(d, 2)
        h = int(rng.integers(max(dh * (kh - 1) + 1 - 2, 2), 9))
        w = int(rng.integers(max(dw * (kw - 1) + 1 - 2, 2), 9))
        ph, pw = expand(p, 2)
        if (window_out_size(h, kh, 1, ph, dh) < 1
                or window_out_size(w, kw, 1, pw, dw) < 1):
            h, w = h + 4, w + 4
        batched = bool(rng.integers(0, 4))
        shape = ((int(rng.integers(1, 3)),) if batched else ()) + (int(rng.integers(1, 4)), h, w)
        out.append(unfold_case(rng, shape, k, d, p, s))
    out += [
        unfold_case(rng, (2, 3, 4, 5), (4, 5), note="kernel as large as the input: L = 1"),
        unfold_case(rng, (1, 1, 1, 1), 1, note="size-1 everything"),
        unfold_case(rng, (3, 5, 6), (2, 2), stride=2, note="unbatched (C, H, W) input"),
        unfold_case(rng, (2, 2, 6, 7), 3, padding=1, note="padding = k // 2 keeps H × W positions"),
        unfold_case(rng, (1, 2, 5, 5), 3, dilation=2,
                    note="dilated kernel exactly as large as the input"),
        unfold_case(rng, (1, 1, 3, 3), 5, padding=1,
                    note="kernel larger than the input, padding makes it fit"),
        refused(unfold_case(rng, (1, 1, 3, 3, 3), 2, note="5-D input"), "3-D or 4-D only"),
        refused(unfold_case(rng, (4, 4), 2, note="2-D input"), "3-D or 4-D only"),
        refused(unfold_case(rng, (1, 1, 3, 3), 4, note="kernel larger than the input"),
                "no window fits"),
        refused(unfold_case(rng, (1, 1, 5, 5), 3, dilation=3,
                            note="dilated kernel larger than the input"), "no window fits"),
        refused(unfold_case(rng, (1, 1, 4, 4), 2, stride=0, note="stride 0"),
                "the stride must be positive"),
        refused(unfold_case(rng, (1, 1, 4, 4), 2, dilation=0, note="dilation 0"),
                "the dilation must be positive"),
        refused(unfold_case(rng, (1, 1, 4, 4), 2, padding=-1, note="negative padding"),
                "the padding must not be negative"),
    ]
    return out


def _unfold_reference(case):
    return oracle.call(oracle.F().unfold, *case.args, **case.kwargs)


def _unfold_geometry(case: Case) -> tuple:
    """(leading (N, C) or (C,), (kH, kW), (H_out, W_out)) of an unfold case."""
    x, k = case.args
    kh, kw = expand(k, 2)
    (dh, dw), (ph, pw), (sh, sw) = _window_options(case)
    oh = window_out_size(x.shape[-2], kh, sh, ph, dh)
    ow = window_out_size(x.shape[-1], kw, sw, pw, dw)
    return x.shape[:-2], (kh, kw), (oh, ow)


def _unfold_reordered(case: Case, order: tuple):
    """Torch's unfold, its rows/columns viewed as (N, C, kh, kw, oh, ow), permuted."""
    out = _unfold_reference(case)
    n_c, (kh, kw), (oh, ow) = _unfold_geometry(case)
    batched = len(n_c) == 2
    full = out if batched else out[None]
    n, c = full.shape[0], full.shape[1] // (kh * kw)
    result = full.reshape(n, c, kh, kw, oh, ow).transpose(order).reshape(n, -1, oh * ow)
    return result if batched else result[0]


def _unfold_without(case: Case, name: str):
    """Torch's unfold with one option back at its default (1 or 0)."""
    kwargs = {k: v for k, v in case.kwargs.items() if k != name}
    return _unfold_reference(Case(case.args, kwargs))


def _unfold_one_sided(case: Case):
    """Torch's unfold of the input padded with 2·padding at the end only."""
    x, k = case.args
    ph, pw = expand(case.kwargs.get("padding", 0), 2)
    padded = oracle.call(oracle.F().pad, x, (0, 2 * pw, 0, 2 * ph))
    return _unfold_reference(Case((padded, k), dict(case.kwargs, padding=0)))


def _unfold_sizes(case: Case) -> tuple:
    """(C, kH·kW, kH, kW, H_out, W_out): when a reordering shows."""
    n_c, (kh, kw), (oh, ow) = _unfold_geometry(case)
    return n_c[-1], kh * kw, kh, kw, oh, ow


def _given(name: str):
    return lambda case: name in case.kwargs


def _padded(case: Case) -> bool:
    return any(expand(case.kwargs.get("padding", 0), 2))


UNFOLD_BUGS = [
    Bug("unfold-channel-fastest",
        "the rows of unfold's output are ordered (C, kH, kW): channel slowest, kernel column "
        "fastest; you put the channel fastest",
        lambda case: _unfold_reordered(case, (0, 2, 3, 1, 4, 5)),
        when=lambda case: _unfold_sizes(case)[0] > 1 and _unfold_sizes(case)[1] > 1),
    Bug("unfold-kernel-offsets-transposed",
        "within a channel the kernel offsets run row by row (kH slower than kW); you ran them "
        "column by column",
        lambda case: _unfold_reordered(case, (0, 1, 3, 2, 4, 5)),
        when=lambda case: min(_unfold_sizes(case)[2:4]) > 1),
    Bug("unfold-positions-column-by-column",
        "the L axis lists the window positions row by row (H_out slower than W_out); you "
        "listed them column by column",
        lambda case: _unfold_reordered(case, (0, 1, 2, 3, 5, 4)),
        when=lambda case: min(_unfold_sizes(case)[4:]) > 1),
    Bug("unfold-dilation-ignored",
        "dilation is ignored: the kernel offsets inside a window are multiples of dilation "
        "(a k-tap kernel spans dilation·(k − 1) + 1)",
        lambda case: _unfold_without(case, "dilation"), when=_given("dilation")),
    Bug("unfold-stride-ignored",
        "the stride is ignored: window starts are `stride` apart",
        lambda case: _unfold_without(case, "stride"), when=_given("stride")),
    Bug("unfold-padding-ignored",
        "padding is ignored: pad `padding` zeros on both sides of H and W before taking "
        "windows",
        lambda case: _unfold_without(case, "padding"), when=_given("padding")),
    Bug("unfold-padding-at-the-end-only",
        "you padded one side only (2·padding at the end): torch pads `padding` on both sides",
        _unfold_one_sided, when=_padded),
]


register(Exercise(
    name="unfold", arg_names=UNFOLD_ARGS, visible=_unfold_visible, hidden=_unfold_hidden,
    reference=_unfold_reference, bugs=UNFOLD_BUGS,
))


# fold ---------------------------------------------------------------------------------
FOLD_ARGS = ("input", "output_size", "kernel_size", "dilation", "padding", "stride")


def fold_case(rng: np.random.Generator, n: int, c: int, output_size, kernel_size, dilation=1,
              padding=0, stride=1, batched=True, rows=None, length=None, note="") -> Case:
    """A fold call whose input fits the geometry (unless rows / length override it)."""
    (h, w), (kh, kw) = expand(output_size, 2), expand(kernel_size, 2)
    (dh, dw), (ph, pw), (sh, sw) = expand(dilation, 2), expand(padding, 2), expand(stride, 2)
    count = 1
    if min(sh, sw) > 0:
        count = (max(window_out_size(h, kh, sh, ph, dh), 0)
                 * max(window_out_size(w, kw, sw, pw, dw), 0))
    shape = ((n,) if batched else ()) + (rows or c * kh * kw, length or max(count, 1))
    x = rng.standard_normal(shape)
    return Case((x, output_size, kernel_size), _options(dilation, padding, stride),
                note=note or f"output_size={output_size!r}, kernel_size={kernel_size!r}, "
                             f"dilation={dilation!r}, padding={padding!r}, stride={stride!r}")


def _fold_visible(rng):
    return [
        fold_case(rng, 1, 1, (3, 3), 2, note="2×2 patches of a 3×3 image: overlaps are summed"),
        fold_case(rng, 2, 3, (4, 4), 2, stride=2, note="non-overlapping 2×2 patches"),
        fold_case(rng, 1, 2, (5, 4), (3, 2), padding=1, note="padding 1 is cropped away"),
        fold_case(rng, 1, 1, (6, 6), 2, dilation=2, note="dilation 2"),
    ]


def _fold_hidden(rng):
    out = []
    grid = _half_of_grid(rng, [1, 2, 3, (3, 2)], [1, 2, (2, 1)], [0, 1, (0, 2)], [1, 2, (1, 3)])
    for k, d, p, s in grid:
        (kh, kw), (dh, dw) = expand(k, 2), expand(d, 2)
        h = int(rng.integers(max(dh * (kh - 1) + 1, 2), 9))
        w = int(rng.integers(max(dw * (kw - 1) + 1, 2), 9))
        size = (h, w) if rng.integers(0, 3) else h
        if not isinstance(size, tuple):
            w = h
        out.append(fold_case(rng, int(rng.integers(1, 3)), int(rng.integers(1, 4)), size, k,
                             d, p, s, batched=bool(rng.integers(0, 4))))
    out += [
        fold_case(rng, 2, 2, (4, 5), (4, 5), note="one patch as large as the output (L = 1)"),
        fold_case(rng, 1, 1, (1, 1), 1, note="size-1 everything"),
        fold_case(rng, 1, 3, (6, 5), 3, batched=False, padding=1,
                  note="unbatched (C·kH·kW, L) input"),
        fold_case(rng, 2, 2, (7, 7), 3, stride=1, note="stride 1, 3×3: up to 9 patches overlap"),
        fold_case(rng, 1, 2, (5, 7), 3, stride=2, padding=1, dilation=2,
                  note="everything at once"),
        fold_case(rng, 1, 1, (3, 3), 2, stride=3,
                  note="stride larger than the kernel: gaps stay 0"),
        refused(fold_case(rng, 1, 1, (3, 3), 2, rows=5, note="C·kH·kW = 5"),
                "the rows must be a multiple of kH·kW = 4"),
        refused(fold_case(rng, 1, 1, (3, 3), 2, length=5, note="L = 5"),
                "(3, 3) with 2×2 patches has L = 4"),
        refused(fold_case(rng, 1, 1, (1, 1), 2, length=1, note="output smaller than the kernel"),
                "no patch fits"),
        refused(fold_case(rng, 1, 1, (4, 4), 2, stride=0, length=1, note="stride 0"),
                "the stride must be positive"),
        refused(Case((rng.standard_normal((1, 1, 4, 4)), (3, 3), 2), {}, note="4-D input"),
                "2-D or 3-D only"),
    ]
    return out


def _fold_reference(case):
    return oracle.call(oracle.F().fold, *case.args, **case.kwargs)


def _fold_geometry(case: Case) -> tuple:
    """(C, (kH, kW), (H, W), (H_out, W_out)) of a fold case: the patch grid its input fills."""
    x, output_size, k = case.args
    (kh, kw), (h, w) = expand(k, 2), expand(output_size, 2)
    (dh, dw), (ph, pw), (sh, sw) = _window_options(case)
    oh, ow = window_out_size(h, kh, sh, ph, dh), window_out_size(w, kw, sw, pw, dw)
    return x.shape[-2] // (kh * kw), (kh, kw), (h, w), (oh, ow)


def _fold_read_as(case: Case, read: tuple):
    """fold of the input a student reading its rows/columns in the order ``read`` (instead
    of torch's (c, kh, kw, oh, ow)) effectively folds."""
    x, output_size, k = case.args
    c, (kh, kw), _, (oh, ow) = _fold_geometry(case)
    full = x if x.ndim == 3 else x[None]
    dims = {"c": c, "kh": kh, "kw": kw, "oh": oh, "ow": ow}
    arranged = full.reshape((full.shape[0],) + tuple(dims[a] for a in read))
    perm = (0,) + tuple(1 + read.index(a) for a in ("c", "kh", "kw", "oh", "ow"))
    fixed = arranged.transpose(perm).reshape(full.shape)
    return _fold_reference(Case((fixed if x.ndim == 3 else fixed[0], output_size, k),
                                case.kwargs))


def _fold_coverage(case: Case):
    """How many patches cover each output pixel: fold of ones."""
    return _fold_reference(Case((np.ones_like(case.args[0]),) + case.args[1:], case.kwargs))


def _fold_averaged(case: Case):
    t = oracle.torch()
    summed, counts = _fold_reference(case), _fold_coverage(case)
    return (t.from_numpy(summed) / t.from_numpy(np.maximum(counts, 1))).numpy()


def _fold_overwritten(case: Case):
    """Patches written one after another (row by row), each overwriting the last."""
    t = oracle.torch()
    x = case.args[0]
    c, (kh, kw), (h, w), (oh, ow) = _fold_geometry(case)
    (dh, dw), (ph, pw), (sh, sw) = _window_options(case)
    cols = t.from_numpy(x if x.ndim == 3 else x[None])
    patches = cols.reshape(cols.shape[0], c, kh, kw, oh, ow)
    out = t.zeros(cols.shape[0], c, h + 2 * ph, w + 2 * pw, dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                j * sw: j * sw + dw * (kw - 1) + 1: dw] = patches[..., i, j]
    out = out[:, :, ph: ph + h, pw: pw + w].numpy()
    return out if x.ndim == 3 else out[0]


def _fold_uncropped(case: Case):
    """What torch gives for the padded size with no padding: the canvas, uncropped."""
    ph, pw = expand(case.kwargs.get("padding", 0), 2)
    x, (h, w), k = case.args[0], expand(case.args[1], 2), case.args[2]
    return _fold_reference(Case((x, (h + 2 * ph, w + 2 * pw), k), dict(case.kwargs, padding=0)))


def _overlapping(case: Case) -> bool:
    return _fold_coverage(case).max() > 1


def _fold_sizes(case: Case) -> tuple:
    """(C, kH·kW, kH, kW, H_out, W_out): when a reordering shows."""
    c, (kh, kw), _, (oh, ow) = _fold_geometry(case)
    return c, kh * kw, kh, kw, oh, ow


FOLD_BUGS = [
    Bug("fold-overlaps-overwritten",
        "fold sums the values of overlapping patches; you overwrote them (the last patch "
        "written wins)",
        _fold_overwritten, when=_overlapping),
    Bug("fold-overlaps-averaged",
        "fold sums the values of overlapping patches; you averaged them (that is "
        "fold(x) / fold(ones), not fold(x))",
        _fold_averaged, when=_overlapping),
    Bug("fold-channel-fastest",
        "the rows of fold's input are ordered (C, kH, kW): channel slowest; you read the "
        "channel fastest",
        lambda case: _fold_read_as(case, ("kh", "kw", "c", "oh", "ow")),
        when=lambda case: _fold_sizes(case)[0] > 1 and _fold_sizes(case)[1] > 1),
    Bug("fold-kernel-offsets-transposed",
        "within a channel the kernel offsets run row by row (kH slower than kW); you read "
        "them column by column",
        lambda case: _fold_read_as(case, ("c", "kw", "kh", "oh", "ow")),
        when=lambda case: min(_fold_sizes(case)[2:4]) > 1),
    Bug("fold-positions-column-by-column",
        "the L axis lists the patch positions row by row (H_out slower than W_out); you read "
        "them column by column",
        lambda case: _fold_read_as(case, ("c", "kh", "kw", "ow", "oh")),
        when=lambda case: min(_fold_sizes(case)[4:]) > 1),
    Bug("fold-padding-not-cropped",
        "fold works on the padded canvas, then crops `padding` from each side: the output is "
        "output_size",
        _fold_uncropped, when=_padded),
]


register(Exercise(
    name="fold", arg_names=FOLD_ARGS, visible=_fold_visible, hidden=_fold_hidden,
    reference=_fold_reference, bugs=FOLD_BUGS,
))


# conv2d through unfold ----------------------------------------------------------------
def _conv_visible(rng):
    case = _groups.gconv_case
    return [
        case(rng, 2, c_in=3, c_out=4, size=(6, 5), k=(3, 2), note="plain: unfold, matmul, reshape"),
        case(rng, 2, c_in=2, c_out=3, size=(7, 7), stride=2, padding=1, note="stride 2, padding 1"),
        case(rng, 2, c_in=2, c_out=2, size=(8, 7), dilation=2, bias=False, note="dilation 2"),
        case(rng, 2, c_in=4, c_out=6, groups=2, padding="same", note="groups=2, 'same'"),
    ]


def _weight_flattened_channel_last(case: Case):
    """conv2d with the weight's rows in (kH, kW, C) order, read as (C, kH, kW)."""
    x, w, b = case.args
    scrambled = w.transpose(0, 2, 3, 1).reshape(w.shape).copy()
    return oracle.call(oracle.F().conv2d, x, scrambled, b, **case.kwargs)


# conv2d/unfold grades conv2d over the whole signature, as chapter 02 does: chapter 02's
# known bugs of conv2d, and one of flattening the weight for the matrix product.
CONV_BUGS = _groups.conv_variants(2) + [
    Bug("weight-flattened-channel-last",
        "weight.reshape(C_out, -1) already matches unfold's row order (C, kH, kW); you "
        "flattened the weight with the channel last",
        _weight_flattened_channel_last,
        when=lambda case: case.args[1].shape[1] > 1 and case.args[1][0, 0].size > 1),
]


register(Exercise(
    name="conv2d/unfold", arg_names=_groups.CONV_ARGS, visible=_conv_visible,
    hidden=_groups._hidden(2), reference=_groups._reference(2), bugs=CONV_BUGS,
    diagnose=_groups._diagnose_shape(2),
))


# conv_matrix --------------------------------------------------------------------------
MATRIX_ARGS = ("weight", "input_size", "stride", "padding")


def matrix_case(rng: np.random.Generator, c_out: int, c_in: int, k, input_size, stride=1,
                padding=0, note="") -> Case:
    """conv_matrix of a random (c_out, c_in, kH, kW) weight for an input of ``input_size``."""
    kh, kw = expand(k, 2)
    w = rng.standard_normal((c_out, c_in, kh, kw))
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    return Case((w, tuple(input_size)), kwargs,
                note=note or f"weight {w.shape}, input_size={tuple(input_size)}, "
                             f"stride={stride!r}, padding={padding!r}")


def _matrix_visible(rng):
    return [
        matrix_case(rng, 1, 1, 3, (4, 4), note="the 4×4 input, 3×3 kernel: a 4×16 matrix"),
        matrix_case(rng, 1, 1, 2, (3, 4), stride=(1, 2), note="a strided 2×2 kernel"),
        matrix_case(rng, 1, 1, 3, (3, 3), padding=1, note="padding 1: border taps fall off"),
        matrix_case(rng, 2, 3, (2, 1), (3, 2),
                    note="channels: rows (C_out, H_out, W_out), columns (C_in, H, W)"),
    ]


def _matrix_hidden(rng):
    out = []
    for stride, padding in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2))):
        for _ in range(2):
            k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            size = (int(rng.integers(max(k[0] - 1, 1), 6)), int(rng.integers(max(k[1] - 1, 1), 6)))
            ph, pw = expand(padding, 2)
            if size[0] + 2 * ph < k[0] or size[1] + 2 * pw < k[1]:
                size = (size[0] + 2, size[1] + 2)
            out.append(matrix_case(rng, int(rng.integers(1, 3)), int(rng.integers(1, 3)), k,
                                   size, stride, padding))
    out += [
        matrix_case(rng, 2, 2, (3, 4), (3, 4),
                    note="kernel as large as the input: one row per output channel"),
        matrix_case(rng, 1, 1, 1, (1, 1), note="1×1 everything"),
        matrix_case(rng, 1, 2, 3, (1, 1), padding=1,
                    note="a 1×1 input under a padded 3×3 kernel"),
        refused(matrix_case(rng, 1, 1, 3, (2, 2), note="kernel larger than the input"),
                "no window fits"),
        refused(matrix_case(rng, 1, 1, 2, (3, 3), stride=0, note="stride 0"),
                "the stride must be positive"),
        refused(matrix_case(rng, 1, 1, 2, (3, 3), padding=-1, note="negative padding"),
                "the padding must not be negative"),
    ]
    return out


def _matrix_reference(case, weight=None, input_size=None, **changes):
    """Column j of C is conv2d of the j-th unit basis image (flattened as (C_in, H, W))."""
    t = oracle.torch()
    w = case.args[0] if weight is None else weight
    h, wd = case.args[1] if input_size is None else input_size
    kwargs = dict(case.kwargs, **changes)
    c_in = w.shape[1]
    basis = t.eye(c_in * h * wd, dtype=oracle.to_torch(w).dtype).reshape(-1, c_in, h, wd)
    out = oracle.call(oracle.F().conv2d, basis.numpy(), w, **kwargs)
    return out.reshape(out.shape[0], -1).T.copy()


def _matrix_geometry(case: Case) -> tuple:
    """(C_out, C_in, H, W, H_out, W_out) of a conv_matrix case."""
    w, (h, wd) = case.args
    (sh, sw) = expand(case.kwargs.get("stride", 1), 2)
    (ph, pw) = expand(case.kwargs.get("padding", 0), 2)
    oh, ow = window_out_size(h, w.shape[2], sh, ph), window_out_size(wd, w.shape[3], sw, pw)
    return w.shape[0], w.shape[1], h, wd, oh, ow


def _matrix_columns_column_major(case: Case):
    _, c_in, h, wd, _, _ = _matrix_geometry(case)
    m = _matrix_reference(case)
    return m.reshape(-1, c_in, h, wd).transpose(0, 1, 3, 2).reshape(m.shape[0], -1)


def _matrix_rows_channel_last(case: Case):
    c_out, _, _, _, oh, ow = _matrix_geometry(case)
    m = _matrix_reference(case)
    return m.reshape(c_out, oh, ow, -1).transpose(1, 2, 0, 3).reshape(m.shape)


def _matrix_padded_columns(case: Case):
    ph, pw = expand(case.kwargs.get("padding", 0), 2)
    h, wd = case.args[1]
    return _matrix_reference(case, input_size=(h + 2 * ph, wd + 2 * pw), padding=0)


MATRIX_BUGS = [
    Bug("matrix-kernel-flipped",
        "your kernel is flipped: conv2d is cross-correlation (互相关), row i of C holds "
        "w[p, q] at the input pixel (i·s + p, j·s + q)",
        lambda case: _matrix_reference(case, weight=case.args[0][..., ::-1, ::-1].copy()),
        when=lambda case: case.args[0][0, 0].size > 1),
    Bug("matrix-columns-column-by-column",
        "the columns of C follow x.flatten() of a (C_in, H, W) image, row by row: column "
        "c·H·W + r·W + q is pixel (c, r, q)",
        _matrix_columns_column_major, when=lambda case: min(case.args[1]) > 1),
    Bug("matrix-rows-channel-last",
        "the rows of C follow y.flatten() of (C_out, H_out, W_out): output channel slowest",
        _matrix_rows_channel_last,
        when=lambda case: case.args[0].shape[0] > 1
        and _matrix_geometry(case)[4] * _matrix_geometry(case)[5] > 1),
    Bug("matrix-stride-ignored",
        "the stride is ignored: output (i, j) reads the window starting at "
        "(i·stride, j·stride)",
        lambda case: _matrix_reference(case, stride=1),
        when=lambda case: case.kwargs.get("stride", 1) != 1),
    Bug("matrix-columns-for-the-padded-input",
        "C multiplies the unpadded image: its columns are C_in·H·W pixels; padding zeros "
        "contribute nothing and get no column",
        _matrix_padded_columns, when=_padded),
    Bug("matrix-transposed",
        "you returned Cᵀ: C has one row per output value and one column per input value, "
        "y = C @ x",
        lambda case: _matrix_reference(case).T.copy()),
]


register(Exercise(
    name="conv_matrix", arg_names=MATRIX_ARGS, visible=_matrix_visible, hidden=_matrix_hidden,
    reference=_matrix_reference, bugs=MATRIX_BUGS,
))
