"""The event a plugin sees, and the error for a frame that cannot be read."""

from .state import KeyedState, StateError


class FrameError(Exception):
    """An input frame weir sent does not follow the packed layout."""

    def __str__(self):
        return "malformed input frame: " + self.args[0]


class Event:
    """One event: its value, key, headers and event time.

    ``value`` and ``key`` are ``bytes`` (``key`` is ``None`` when the event
    has none), ``headers`` a list of ``(name, value)`` pairs with ``str`` names
    and ``bytes`` values, ``time`` milliseconds since the Unix epoch. Build one
    with ``Event(b'{"a":1}', key=b"k")`` to emit it.

    A transform's input event also has :attr:`state`, its key's keyed state.
    """

    __slots__ = ("value", "key", "headers", "time", "_prefix", "_index")

    def __init__(self, value, key=None, headers=None, time=0, _prefix=None, _index=None):
        self.value = bytes(value)
        self.key = None if key is None else bytes(key)
        self.headers = list(headers or [])
        self.time = int(time)
        # The encoded time, key and headers of an input event, reused when a
        # transform replaces only the value.
        self._prefix = _prefix
        # The index of an input event in its batch, which keyed state names
        # it by; None for events built by the plugin and a validator's.
        self._index = _index

    @property
    def state(self):
        """The keyed state of this event's key in this stage (a
        :class:`weir_sdk.state.KeyedState`: ``get``, ``set``, ``delete``).
        Only a transform's input events have one; see :mod:`weir_sdk.state`.
        """
        if self._index is None:
            raise StateError(
                "keyed state belongs to the input events of a transform; this event "
                "was built by the plugin or given to a validator"
            )
        return KeyedState(self._index, self.key)

    def header(self, name):
        """The value of the first header called ``name``, or ``None``."""
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def __eq__(self, other):
        if not isinstance(other, Event):
            return NotImplemented
        return (self.value, self.key, self.headers, self.time) == (
            other.value,
            other.key,
            other.headers,
            other.time,
        )

    def __repr__(self):
        return "Event(%r, key=%r, headers=%r, time=%r)" % (
            self.value,
            self.key,
            self.headers,
            self.time,
        )
