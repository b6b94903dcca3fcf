"""Chapter 09 answers for the similarity report's tests.

``CAROL_BODIES`` and ``DAVE_BODIES`` are written independently of the course's answer and
of each other; both pass chapter 09's visible and hidden checks (tests/test_similarity.py).
``disguised`` is what a student who copies does to hide it: every local name renamed,
comments rewritten, the code re-spaced.
"""
import io
import re
import tokenize

STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

# Bodies that replace each "# YOUR CODE HERE / raise NotImplementedError()" of a stub, in
# order (a class has two: __init__ and __call__), without their indentation.
CAROL_BODIES = {
    "layer_norm": [
        """
if isinstance(normalized_shape, (int, np.integer)):
    normalized_shape = [normalized_shape]
dims = [int(d) for d in normalized_shape]
if not dims:
    raise ValueError("empty normalized_shape")
n = len(dims)
if input.ndim < n or list(input.shape[input.ndim - n:]) != dims:
    raise ValueError("normalized_shape does not match the input")
for p in (weight, bias):
    if p is not None and list(np.shape(p)) != dims:
        raise ValueError("affine parameter of the wrong shape")
lead = input.shape[:input.ndim - n]
flat = input.reshape(lead + (-1,))
mu = flat.sum(-1, keepdims=True) / flat.shape[-1]
centred = flat - mu
sigma2 = np.square(centred).sum(-1, keepdims=True) / flat.shape[-1]
y = (centred / np.sqrt(sigma2 + eps)).reshape(input.shape)
if weight is not None:
    y = y * weight
if bias is not None:
    y = y + bias
return y"""
    ],
    "LayerNorm": [
        """
dims = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
self.normalized_shape = tuple(dims)
self.eps = eps
self.elementwise_affine = elementwise_affine
self.weight, self.bias = None, None
if elementwise_affine:
    self.weight = np.ones(dims)
    if bias:
        self.bias = np.zeros(dims)""",
        """
return layer_norm(input, self.normalized_shape, weight=self.weight, bias=self.bias,
                  eps=self.eps)""",
    ],
    "rms_norm": [
        """
if isinstance(normalized_shape, (int, np.integer)):
    normalized_shape = [normalized_shape]
dims = [int(d) for d in normalized_shape]
n = len(dims)
if n == 0 or input.ndim < n or list(input.shape[input.ndim - n:]) != dims:
    raise ValueError("normalized_shape does not match the input")
if weight is not None and list(np.shape(weight)) != dims:
    raise ValueError("weight of the wrong shape")
work = np.float32 if input.dtype == np.float16 else input.dtype
if eps is None:
    eps = np.finfo(work).eps
flat = input.astype(work).reshape(input.shape[:input.ndim - n] + (-1,))
ms = np.einsum("...i,...i->...", flat, flat)[..., None] / flat.shape[-1]
y = (flat / np.sqrt(ms + eps)).reshape(input.shape)
if weight is not None:
    y = y * weight
return y.astype(input.dtype)"""
    ],
    "RMSNorm": [
        """
dims = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
self.normalized_shape = tuple(dims)
self.eps = eps
self.weight = np.ones(dims) if elementwise_affine else None""",
        """
return rms_norm(input, self.normalized_shape, weight=self.weight, eps=self.eps)""",
    ],
}

DAVE_BODIES = {
    "layer_norm": ['''
try:
    k = len(normalized_shape)
    normalized_shape = tuple(normalized_shape)
except TypeError:
    k, normalized_shape = 1, (normalized_shape,)
if k == 0 or k > input.ndim:
    raise ValueError("bad normalized_shape")
if input.shape[-k:] != normalized_shape:
    raise ValueError("input does not end in normalized_shape")
if weight is not None and weight.shape != normalized_shape:
    raise ValueError("weight")
if bias is not None and bias.shape != normalized_shape:
    raise ValueError("bias")
last = list(range(-k, 0))
m = np.mean(input, axis=tuple(last), keepdims=True)
v = np.var(input, axis=tuple(last), keepdims=True)
gamma = 1.0 if weight is None else weight
beta = 0.0 if bias is None else bias
return (input - m) / np.sqrt(v + eps) * gamma + beta'''],
    "LayerNorm": ['''
try:
    self.normalized_shape = tuple(normalized_shape)
except TypeError:
    self.normalized_shape = (normalized_shape,)
self.eps, self.elementwise_affine = eps, elementwise_affine
self.weight = np.ones(self.normalized_shape) if elementwise_affine else None
self.bias = np.zeros(self.normalized_shape) if (elementwise_affine and bias) else None''', '''
return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)'''],
    "rms_norm": ['''
try:
    k = len(normalized_shape)
    normalized_shape = tuple(normalized_shape)
except TypeError:
    k, normalized_shape = 1, (normalized_shape,)
if k == 0 or k > input.ndim or input.shape[-k:] != normalized_shape:
    raise ValueError("bad normalized_shape")
if weight is not None and weight.shape != normalized_shape:
    raise ValueError("weight")
dt = np.dtype(np.float32) if input.dtype == np.float16 else input.dtype
if eps is None:
    eps = np.finfo(dt).eps
z = input.astype(dt)
r = np.sqrt(np.mean(z ** 2, axis=tuple(range(-k, 0)), keepdims=True) + eps)
result = z / r
if weight is not None:
    result = result * weight
return result.astype(input.dtype)'''],
    "RMSNorm": ['''
try:
    self.normalized_shape = tuple(normalized_shape)
except TypeError:
    self.normalized_shape = (normalized_shape,)
self.eps = eps
self.weight = np.ones(self.normalized_shape) if elementwise_affine else None''', '''
return rms_norm(input, self.normalized_shape, self.weight, self.eps)'''],
}

RENAMES = {"shape": "dims_wanted", "axes": "reduce_over", "mean": "mu", "var": "spread",
           "out": "result_arr", "x": "values", "compute": "work_type", "param": "p_arr",
           "name": "label"}


def fill(stub: str, bodies: list[str]) -> str:
    """The stub with each placeholder replaced by the next body, at its indentation."""
    text = stub
    for body in bodies:
        at = text.index(STUB.splitlines()[0])
        indent = text[text.rindex("\n", 0, at) + 1:at]
        end = text.index(STUB.splitlines()[1], at) + len(STUB.splitlines()[1])
        code = "\n".join(indent + line if line else "" for line in body.strip("\n").splitlines())
        text = text[:at - len(indent)] + code + text[end:]
    return text


def disguised(answers: dict) -> dict:
    """Each answer with local names renamed, comments reworded and the code re-spaced."""
    out = {}
    for grade_id, source in answers.items():
        tokens, previous = [], None
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = tok.type, tok.string
            if kind == tokenize.NAME and text in RENAMES and previous != ".":
                text = RENAMES[text]
            elif kind == tokenize.STRING and text[:1] in "fF":
                text = re.sub(r"\{([^}]*)\}", _rename_in_braces, text)
            elif kind == tokenize.COMMENT:
                text = "# my own working"
            tokens.append((kind, text))
            previous = tok.string
        # Two-tuples make untokenize re-space every line: another layout, the same code.
        out[grade_id] = tokenize.untokenize(tokens)
    return out


def _rename_in_braces(match) -> str:
    inner = re.sub(r"(?<![.\w])([A-Za-z_]\w*)", lambda m: RENAMES.get(m.group(1), m.group(1)),
                   match.group(1))
    return "{" + inner + "}"


def answers(stubs: dict, bodies: dict) -> dict:
    return {grade_id: fill(stubs[grade_id], parts) for grade_id, parts in bodies.items()}
