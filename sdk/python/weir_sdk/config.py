"""A stage's configuration: the key/value strings of its ``config`` table."""


class ConfigError(Exception):
    """Raised from a plugin's ``__init__``: the pipeline stops at start with
    the message. Name the offending key, e.g. ``config `op`: unknown operator``.
    """


class Config:
    """The stage's ``config`` table as ordered ``(key, value)`` strings; TOML
    numbers and tables arrive as their text."""

    def __init__(self, entries):
        self._entries = [(str(k), str(v)) for k, v in entries]

    def get(self, name, default=None):
        """The value of ``name``, or ``default`` when it is absent."""
        for key, value in self._entries:
            if key == name:
                return value
        return default

    def require(self, name):
        """The value of ``name``; raises :class:`ConfigError` when absent."""
        value = self.get(name)
        if value is None:
            raise ConfigError("missing config key `%s`" % name)
        return value

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)
