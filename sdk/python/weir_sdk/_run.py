"""The per-batch glue between the generated exports and a plugin: decoding
frames, calling the plugin once per event and packing the results. Nothing
here imports the generated bindings, so it is tested on the build machine."""

from . import _frame
from .config import Config, ConfigError
from .emit import Emitter, Reject
from .event import FrameError

NOT_INITIALISED = "plugin is not initialised: init was not called or failed"


class Slot:
    """Where the plugin instance lives between calls."""

    def __init__(self, cls):
        self.cls = cls
        self.plugin = None

    def init(self, entries):
        """Creates the instance; returns an error message or ``None``."""
        self.plugin = None
        try:
            self.plugin = self.cls(Config(entries))
        except ConfigError as err:
            return str(err)
        return None


def transform_batch(plugin, data, ends):
    """Returns ``(output, errors)`` for one batch: an :class:`_frame.Output`
    and a list of ``(index, message)``."""
    output = _frame.Output()
    errors = []
    for index, start, end in _frame.frames(data, ends):
        if plugin is None:
            errors.append((index, NOT_INITIALISED))
            continue
        try:
            event = _frame.decode(data, start, end)
        except FrameError as err:
            errors.append((index, str(err)))
            continue
        mark = output.mark()
        try:
            plugin.transform(event, Emitter(output, index, event))
        except Reject as err:
            output.rollback(mark)
            errors.append((index, str(err)))
    return output, errors


def validate_batch(plugin, data, ends):
    """Returns the ``(index, message)`` of each rejected event."""
    errors = []
    for index, start, end in _frame.frames(data, ends):
        if plugin is None:
            errors.append((index, NOT_INITIALISED))
            continue
        try:
            plugin.validate(_frame.decode(data, start, end))
        except (Reject, FrameError) as err:
            errors.append((index, str(err)))
    return errors
