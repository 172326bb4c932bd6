"""Lines for weir's log, tagged with the stage and plugin. Lines are rate
limited per stage: logging per event loses lines, not throughput."""


def _write(level, message):
    try:
        from weir_world.imports import host
    except ImportError:
        # Outside a component (unit tests on the build machine).
        import sys

        print("weir plugin log [%s]: %s" % (level, message), file=sys.stderr)
        return
    host.log(getattr(host.Level, level.upper()), str(message))


def trace(message):
    _write("trace", message)


def debug(message):
    _write("debug", message)


def info(message):
    _write("info", message)


def warn(message):
    _write("warn", message)


def error(message):
    _write("error", message)
