"""The per-batch glue between the generated exports and a plugin: decoding
frames, calling the plugin once per event and packing the results. Nothing
here imports the generated bindings, so it is tested on the build machine."""

import os
import sys
import traceback

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
        except BaseException as err:
            crash(err)
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
            event = _frame.decode(data, start, end, index)
        except FrameError as err:
            errors.append((index, str(err)))
            continue
        mark = output.mark()
        try:
            plugin.transform(event, Emitter(output, index, event))
        except Reject as err:
            output.rollback(mark)
            errors.append((index, str(err)))
        except BaseException as err:
            crash(err)
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
        except BaseException as err:
            crash(err)
    return errors


def crash(err):
    """Traps the instance after writing one line about ``err`` to stderr.

    weir explains a trap with the last line a plugin wrote to stderr that
    says "panicked at"; CPython's traceback spreads over many lines and
    componentize-py's own panic line would come last, hiding it. So: one
    line, `plugin panicked at <file>:<line>: <Type>: <message>`, then
    abort, which is a wasm trap inside a component.
    """
    frames = traceback.extract_tb(err.__traceback__)
    where = "%s:%d" % (frames[-1].filename, frames[-1].lineno) if frames else "<unknown>"
    message = ("%s: %s" % (type(err).__name__, err)).replace("\n", " ")
    print("plugin panicked at %s: %s" % (where, message), file=sys.stderr, flush=True)
    os.abort()
