"""weir's packed batch layout (``types.batch`` in ``wit/weir.wit``), guest side.

A frame is, integers little-endian: the event time (s64), the key length
(u32, ``0xffffffff`` for no key) and key, the header count (u32) and for each
header its name length (u32), name, value length (u32) and value; then the
event value, which runs to the end of the frame. This module has no import
from the generated bindings, so it runs (and is tested) on the build machine.
"""

import struct

from .event import Event, FrameError

NO_KEY = 0xFFFFFFFF

_TIME_AND_KEY = struct.Struct("<qI")
_U32 = struct.Struct("<I")


def frames(data, ends):
    """Yields ``(index, start, end)`` for each frame; raises nothing."""
    start = 0
    for index, end in enumerate(ends):
        yield index, start, end
        start = max(start, end)


def decode(data, start, end, index=None):
    """Decodes the frame ``data[start:end]`` into an :class:`Event`; a
    transform passes the frame's ``index`` in the batch, for keyed state.

    Raises :class:`FrameError` when the frame is malformed.
    """
    if end < start or end > len(data):
        raise FrameError("frame end lies outside the batch")
    if end - start < 8:
        raise FrameError("truncated event time")
    if end - start < 12:
        raise FrameError("truncated key length")
    time, key_len = _TIME_AND_KEY.unpack_from(data, start)
    at = start + 12
    key = None
    if key_len != NO_KEY:
        if at + key_len > end:
            raise FrameError("truncated key")
        key = data[at : at + key_len]
        at += key_len
    if at + 4 > end:
        raise FrameError("truncated header count")
    (count,) = _U32.unpack_from(data, at)
    at += 4
    headers = []
    for _ in range(count):
        name, at = _sized(data, at, end)
        value, at = _sized(data, at, end)
        try:
            headers.append((name.decode("utf-8"), value))
        except UnicodeDecodeError:
            raise FrameError("header name is not utf-8") from None
    return Event(data[at:end], key=key, headers=headers, time=time, _prefix=data[start:at], _index=index)


def _sized(data, at, end):
    if at + 4 > end:
        raise FrameError("truncated header")
    (length,) = _U32.unpack_from(data, at)
    at += 4
    if at + length > end:
        raise FrameError("truncated header")
    return data[at : at + length], at + length


def encode(event, out):
    """Appends the frame of ``event`` to the bytearray ``out``."""
    out += _TIME_AND_KEY.pack(event.time, NO_KEY if event.key is None else len(event.key))
    if event.key is not None:
        out += event.key
    out += _U32.pack(len(event.headers))
    for name, value in event.headers:
        name = name.encode("utf-8")
        out += _U32.pack(len(name))
        out += name
        out += _U32.pack(len(value))
        out += value
    out += event.value


class Output:
    """The frames, ends and origins of a transform's output, built in place."""

    __slots__ = ("frames", "ends", "origins")

    def __init__(self):
        self.frames = bytearray()
        self.ends = []
        self.origins = []

    def mark(self):
        return len(self.frames), len(self.ends)

    def rollback(self, mark):
        frames, events = mark
        del self.frames[frames:]
        del self.ends[events:]
        del self.origins[events:]

    def close_frame(self, origin):
        self.ends.append(len(self.frames))
        self.origins.append(origin)
