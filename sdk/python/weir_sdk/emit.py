"""What a transform hands its outputs to, and how a plugin refuses an event."""

from . import _frame


class Reject(Exception):
    """Raise it to refuse the current event: it goes to the dead-letter output
    with ``str(err)`` as the reason, and anything emitted for it is discarded.
    Any other exception is a bug: it traps the instance (weir dead-letters the
    event with the traceback's last line)."""


class Emitter:
    """Collects what one input event becomes. Emitting nothing drops it."""

    __slots__ = ("_out", "_origin", "_input")

    def __init__(self, out, origin, event):
        self._out = out
        self._origin = origin
        self._input = event

    def keep(self):
        """Passes the input event on unchanged, without copying it."""
        self._out.close_frame(self._origin)

    def emit_value(self, value):
        """Emits the input event with ``value`` (bytes or str) as its value;
        key, headers and time stay."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        self._out.frames += self._input._prefix
        self._out.frames += value
        self._out.close_frame(self._origin)

    def emit(self, event):
        """Emits ``event`` (an :class:`weir_sdk.Event`) as it is."""
        _frame.encode(event, self._out.frames)
        self._out.close_frame(self._origin)
