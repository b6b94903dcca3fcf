"""The coordinator's end of a kernel's channel: every byte from a kernel is hostile.

A message is a length-prefixed JSON header and raw .npy blobs (``wire``). Here each one
is read under a deadline, bounded in size and nesting, and checked against the schema of
its event before anything uses it; whatever does not fit is a ``ChannelError``.
"""
from __future__ import annotations

import json
import os
import select
import time

from . import wire

MAX_HEADER = 8 * 2**20
MAX_BLOBS = 256 * 2**20
MAX_DEPTH = 12
MAX_OUTCOMES = 20_000
MESSAGE_SECONDS = 60.0  # once a message has begun, the rest must follow within this


class ChannelError(Exception):
    """The kernel sent something that is not a well-formed message."""


class Closed(Exception):
    """The kernel closed its end (it finished or died)."""


def _depth(value, limit: int) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
    return deepest


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(node, blobs: int, depth: int = 0) -> None:
    if not isinstance(node, dict) or depth > 6:
        raise ChannelError("malformed value")
    kind = node.get("kind")
    if kind in ("tuple", "list"):
        items = node.get("items")
        if not isinstance(items, list) or len(items) > 10_000:
            raise ChannelError("malformed value items")
        for item in items:
            _check_value(item, blobs, depth + 1)
    elif kind == "array":
        if not _is_int(node.get("blob")) or not 0 <= node["blob"] < blobs:
            raise ChannelError("array value without its blob")
    elif kind == "other":
        if not isinstance(node.get("type", ""), str):
            raise ChannelError("malformed value type")
    elif kind != "none":
        raise ChannelError(f"unknown value kind {str(kind)[:40]!r}")


def _optional_str(value) -> bool:
    return value is None or isinstance(value, str)


def validate(header, blob_count: int, steps: int) -> dict:
    """The header if it fits its event's schema; ChannelError otherwise."""
    if not isinstance(header, dict):
        raise ChannelError("a message that is not an object")
    event = header.get("event")
    step = header.get("step")
    if event in ("start", "end") or (event in ("report", "flag") and step is not None):
        if not _is_int(step) or not 0 <= step < steps:
            raise ChannelError(f"{event} for step {str(step)[:40]!r}")
    if event in ("start", "done"):
        return header
    if event == "end":
        if not isinstance(header.get("status"), str):
            raise ChannelError("end without a status")
        return header
    if event == "flag":
        if not isinstance(header.get("kind"), str) or not isinstance(header.get("detail"), str):
            raise ChannelError("malformed flag")
        return header
    if event == "report":
        outcomes = header.get("outcomes")
        if (not isinstance(header.get("name"), str) or not isinstance(header.get("hidden"), bool)
                or not isinstance(outcomes, list) or len(outcomes) > MAX_OUTCOMES):
            raise ChannelError("malformed report")
        for outcome in outcomes:
            if (
                not isinstance(outcome, dict)
                or not _optional_str(outcome.get("error"))
                or not _optional_str(outcome.get("message"))
                or not _optional_str(outcome.get("where"))
            ):
                raise ChannelError("malformed outcome")
            _check_value(outcome.get("value") or {"kind": "none"}, blob_count)
        return header
    raise ChannelError(f"unknown event {str(event)[:40]!r}")


class Channel:
    """Reads a kernel's messages from a pipe, never blocking past a deadline."""

    def __init__(self, fd: int, steps: int):
        self.fd, self.steps, self.buffer = fd, steps, bytearray()

    def _fill(self, size: int, deadline: float) -> bool:
        """Make ``size`` bytes available; False when the deadline passed first."""
        while len(self.buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return False
            chunk = os.read(self.fd, min(max(size - len(self.buffer), 1 << 16), 1 << 22))
            if not chunk:
                raise Closed
            self.buffer += chunk
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def receive(self, wait: float):
        """(header, blobs), or None when nothing began within ``wait`` seconds."""
        if not self._fill(8, time.monotonic() + wait):
            return None
        deadline = time.monotonic() + MESSAGE_SECONDS
        length = int.from_bytes(self.buffer[:8], "big")
        if length > MAX_HEADER:
            raise ChannelError(f"a message header of {length} bytes")
        if not self._fill(8 + length, deadline):
            raise ChannelError("a message that stopped half-way")
        self._take(8)
        try:
            header = json.loads(self._take(length))
        except (ValueError, RecursionError, UnicodeDecodeError) as err:
            raise ChannelError(f"unreadable message ({type(err).__name__})") from None
        if _depth(header, MAX_DEPTH) > MAX_DEPTH:
            raise ChannelError("a message nested too deeply")
        sizes = header.get("blobs", []) if isinstance(header, dict) else None
        if (not isinstance(sizes, list) or len(sizes) > 100_000
                or not all(_is_int(n) and n >= 0 for n in sizes) or sum(sizes) > MAX_BLOBS):
            raise ChannelError("malformed blob sizes")
        header = validate(header, len(sizes), self.steps)
        blobs = []
        for size in sizes:
            if not self._fill(size, deadline):
                raise ChannelError("a message that stopped half-way")
            blobs.append(self._take(size))
        return header, blobs


def decode_value(node, blobs):
    """A validated value node back to arrays; a bad .npy blob is a foreign value."""
    try:
        return wire.decode_value(node, blobs)
    except Exception:  # noqa: BLE001 - an unreadable answer is a wrong answer
        return wire.Foreign("unreadable value")
