"""Keyed state: small named values weir keeps per key-by key for a transform
stage, so that a plugin remembers what it has seen of a key (a running
count, the last value) without keeping anything itself::

    class FirstPerKey(weir.Transform):
        def transform(self, event, out):
            if event.state.get("seen") is None:
                event.state.set("seen", b"1")
                out.keep()

``event.state`` is the state of that event's key in this stage; a plugin
cannot reach another key's. Values are ``bytes`` under ``str`` names.
Changes made for an event take effect only when the transform returns
normally: an event it refuses (:class:`weir_sdk.Reject`) leaves state as it
was, and so does a call that traps (weir retries the batch in parts).
Within a batch, events see the changes made before them, also those made
for an event that was then refused: check an event before changing state
for it. The pipeline needs a ``[key_by]``; a value set with ``ttl_ms``
expires when the pipeline's watermark passes the event's time plus
``ttl_ms``, so expiry needs an ``[event_time]``.

A component imports weir's ``state`` interface only when its
``weir-plugin.toml`` says ``state = true`` (``sdk/python/build.py`` then
builds the ``transform`` world; without it, the same world less keyed
state, so that weir opens no state store for the plugin). Using
``event.state`` in a component built without it raises
:class:`StateError`, which traps with a line saying so.

Outside a component (host-side unit tests) the state is an in-memory map
keyed by the event's key, which :func:`clear` empties; ``ttl_ms`` is not
applied there, and changes for a refused event are kept.
"""

U64_MAX = (1 << 64) - 1

NOT_BUILT_WITH_STATE = (
    "keyed state is not in this component: add `state = true` to weir-plugin.toml "
    "and rebuild the plugin"
)


class StateError(Exception):
    """Keyed state was used where it cannot be: from an event that is not
    a transform's input, or in a component built without ``state = true``.
    It is a bug in the plugin, so it traps rather than refusing the event."""


class KeyedState:
    """The keyed state of one input event's key; see the module docs."""

    __slots__ = ("_index", "_key")

    def __init__(self, index, key):
        self._index = index
        self._key = key

    def get(self, name):
        """The value (``bytes``) stored under ``name``, or ``None``."""
        return _BACKEND.get(self, _name(name))

    def set(self, name, value, ttl_ms=None):
        """Stores ``value`` (bytes-like, or ``str`` as UTF-8) under ``name``.
        With ``ttl_ms`` (an ``int`` from 0 to 2**64-1) the value expires
        once the watermark passes this event's time plus ``ttl_ms``."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
        else:
            raise TypeError(
                "state value for `%s` must be bytes or str, not %s" % (name, type(value).__name__)
            )
        if ttl_ms is not None:
            if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int):
                raise TypeError("ttl_ms must be an int, not %s" % type(ttl_ms).__name__)
            if not 0 <= ttl_ms <= U64_MAX:
                raise ValueError("ttl_ms must be between 0 and 2**64-1, got %d" % ttl_ms)
        _BACKEND.set(self, _name(name), value, ttl_ms)

    def delete(self, name):
        """Deletes the value stored under ``name`` (nothing when there is none)."""
        _BACKEND.delete(self, _name(name))


def _name(name):
    if not isinstance(name, str):
        raise TypeError("state name must be a str, not %s" % type(name).__name__)
    return name


class _Component:
    """The generated import ``weir:plugin/state``."""

    def __init__(self, imported):
        self._state = imported

    def get(self, state, name):
        return self._state.get(state._index, name)

    def set(self, state, name, value, ttl_ms):
        self._state.set(state._index, name, value, ttl_ms)

    def delete(self, state, name):
        self._state.delete(state._index, name)


class _Unavailable:
    """A component built without the ``state`` import."""

    def get(self, state, name):
        raise StateError(NOT_BUILT_WITH_STATE)

    set = delete = get


class _Memory:
    """Outside a component: a map keyed by (event key, name)."""

    def __init__(self):
        self.values = {}

    def get(self, state, name):
        return self.values.get((state._key, name))

    def set(self, state, name, value, ttl_ms):
        self.values[(state._key, name)] = value

    def delete(self, state, name):
        self.values.pop((state._key, name), None)


def _choose():
    # Chosen when the SDK is imported, which is while componentize-py
    # initialises the component: the same import made first while a
    # pipeline transformed a batch failed ("cannot import name 'state' from
    # 'weir_world.imports'") although the component imported the interface.
    try:
        import weir_world  # noqa: F401  (only inside a component)
    except ImportError:
        return _Memory()
    try:
        from weir_world.imports import state as imported
    except ImportError:
        return _Unavailable()
    return _Component(imported)


_BACKEND = _choose()


def clear():
    """Forgets every value of the in-memory state used outside a component
    (host-side unit tests); does nothing inside one."""
    backend = _BACKEND
    if isinstance(backend, _Memory):
        backend.values.clear()
