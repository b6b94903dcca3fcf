"""The grading kernel's channel to the judge: length-prefixed JSON with raw .npy blobs.

The kernel runs untrusted code, so nothing it sends is unpickled: arrays travel as .npy
bytes loaded with ``allow_pickle=False``, everything else as JSON, with size limits.
"""
from __future__ import annotations

import io
import json
import os
import struct

import numpy as np

MAX_MESSAGE = 512 * 2**20
_HEAD = struct.Struct("!Q")


class WireError(Exception):
    """The other side sent something that is not a well-formed message."""


def send(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    header = dict(header, blobs=[len(b) for b in blobs])
    payload = json.dumps(header).encode()
    data = _HEAD.pack(len(payload)) + payload + b"".join(blobs)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> tuple[dict, list[bytes]]:
    """One message; EOFError when the kernel has gone, WireError when it is garbage."""
    (length,) = _HEAD.unpack(_read_exact(fd, _HEAD.size))
    if length > MAX_MESSAGE:
        raise WireError(f"message header of {length} bytes")
    try:
        header = json.loads(_read_exact(fd, length))
        sizes = [int(n) for n in header.get("blobs", [])]
    except (ValueError, TypeError, AttributeError) as err:
        raise WireError(f"unreadable message: {err}") from None
    if not isinstance(header, dict) or sum(sizes) > MAX_MESSAGE or min(sizes, default=0) < 0:
        raise WireError("malformed message")
    return header, [_read_exact(fd, n) for n in sizes]


# Values: what a student's function returned, flattened to JSON plus arrays ------------

def encode_value(value, blobs: list, depth: int = 0):
    if depth > 4:
        return {"kind": "other", "type": "deeply nested value"}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (tuple, list)):
        return {"kind": "tuple" if isinstance(value, tuple) else "list",
                "items": [encode_value(v, blobs, depth + 1) for v in value]}
    if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            return {"kind": "other", "type": f"array of dtype {array.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {
            "kind": "array",
            "blob": len(blobs) - 1,
            "scalar": not isinstance(value, np.ndarray),
        }
    return {"kind": "other", "type": f"{type(value).__module__}.{type(value).__name__}"}


class Foreign:
    """Stands in for a returned object that is not an array (its type is all we know)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"


def decode_value(node, blobs):
    kind = node.get("kind")
    if kind == "none":
        return None
    if kind in ("tuple", "list"):
        items = [decode_value(item, blobs) for item in node["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "array":
        array = np.load(io.BytesIO(blobs[int(node["blob"])]), allow_pickle=False)
        return array[()] if node.get("scalar") else array
    foreign = Foreign(str(node.get("type", "object")))
    return foreign
