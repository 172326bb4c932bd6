"""Write weir plugins in Python.

A plugin is a class: a :class:`Transform` (an event in, zero or more out) or
a :class:`Validator` (pass or reject each event). The SDK hides the component
bindings and weir's packed batch layout; the plugin sees one
:class:`Event` at a time::

    import weir_sdk as weir

    class Upper(weir.Transform):
        def __init__(self, config):
            self.suffix = config.get("suffix", "")

        def transform(self, event, out):
            out.emit_value(event.value.upper() + self.suffix.encode())

    Transformer = weir.export_transform(Upper)

``componentize-py`` looks for the class named after the exported interface
(``Transformer`` or ``Validator``) in the app module; the ``export_*``
functions build it.

A transform's input event has ``event.state``, the keyed state of its key
(``get(name)``, ``set(name, value, ttl_ms=None)``, ``delete(name)``); see
:mod:`weir_sdk.state`. A plugin that uses it says ``state = true`` in its
``weir-plugin.toml``.
"""

from . import json, log, state
from ._run import Slot, transform_batch, validate_batch
from .config import Config, ConfigError
from .emit import Emitter, Reject
from .event import Event, FrameError
from .state import StateError

__all__ = [
    "Config",
    "ConfigError",
    "Emitter",
    "Event",
    "FrameError",
    "Reject",
    "StateError",
    "Transform",
    "Validator",
    "export_transform",
    "export_validator",
    "json",
    "log",
    "state",
]


class Transform:
    """Base class of a transform. ``__init__(self, config)`` receives the
    stage's :class:`Config` (raise :class:`ConfigError` to refuse it);
    ``transform(self, event, out)`` emits what the event becomes through
    ``out`` (an :class:`Emitter`) or raises :class:`Reject`."""

    def __init__(self, config):
        pass

    def transform(self, event, out):
        raise NotImplementedError("a Transform must define transform(event, out)")


class Validator:
    """Base class of a validator: ``validate(self, event)`` returns to pass the
    event, or raises :class:`Reject` with the reason."""

    def __init__(self, config):
        pass

    def validate(self, event):
        raise NotImplementedError("a Validator must define validate(event)")


def _err(message):
    from componentize_py_types import Err

    return Err(message)


def export_transform(cls):
    """The ``Transformer`` class componentize-py exports, running ``cls``."""
    slot = Slot(cls)

    class Transformer:
        def init(self, config):
            message = slot.init(config)
            if message is not None:
                raise _err(message)

        def transform(self, input):
            from weir_world.exports.transformer import Transformed
            from weir_world.imports.types import Batch, EventError

            output, errors = transform_batch(slot.plugin, input.frames, input.ends)
            return Transformed(
                events=Batch(frames=bytes(output.frames), ends=output.ends),
                origins=output.origins,
                errors=[EventError(index=i, message=m) for i, m in errors],
            )

    return Transformer


def export_validator(cls):
    """The ``Validator`` class componentize-py exports, running ``cls``."""
    slot = Slot(cls)

    class Validator:
        def init(self, config):
            message = slot.init(config)
            if message is not None:
                raise _err(message)

        def validate(self, input):
            from weir_world.imports.types import EventError

            errors = validate_batch(slot.plugin, input.frames, input.ends)
            return [EventError(index=i, message=m) for i, m in errors]

    return Validator
