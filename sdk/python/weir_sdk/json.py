"""Find one field of a JSON value without reformatting anything.

:func:`find` validates the whole document (strict RFC 8259, like weir's own
scanner: no ``NaN``, no lone surrogates... see the FIXME below) and returns the
raw bytes of the value at a dotted path, so a plugin can compare a field's
exact JSON text. :func:`scalar` interprets raw bytes.

Path segments name object members; a segment of digits also indexes arrays
(``items.0.sku``). When an object has a member twice, the first one is
followed.
"""

import json as _json

_DECODER = _json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))
_SCAN = _DECODER.scan_once
_WHITESPACE = " \t\n\r"


class JsonError(ValueError):
    """The value is not JSON; ``str()`` says where and why."""


class PathError(ValueError):
    """A field path is empty or has an empty segment."""


def _reject_constant(name):
    raise ValueError("%s is not json" % name)


class Path:
    """A parsed dotted field path such as ``payer.country`` or ``items.0``."""

    __slots__ = ("text", "segments")

    def __init__(self, text):
        if text == "":
            raise PathError("empty field path")
        parts = text.split(".")
        if any(part == "" for part in parts):
            raise PathError("empty segment in field path `%s`" % text)
        self.text = text
        self.segments = [(part, int(part) if part.isascii() and part.isdigit() else None) for part in parts]

    def __str__(self):
        return self.text


def parse(value):
    """Parses ``value`` (bytes) strictly; raises :class:`JsonError`."""
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError as err:
        raise JsonError("invalid json at byte %d: invalid utf-8" % err.start) from None
    try:
        return text, _DECODER.decode(text)
    except _json.JSONDecodeError as err:
        # FIXME: the position is a character index and the wording is
        # Python's, not weir's scanner's ("invalid json at byte 7: leading
        # zero in number"); which documents are refused is the same except
        # for the cases named in this module's docstring.
        raise JsonError("invalid json at byte %d: %s" % (err.pos, err.msg.lower())) from None
    except (ValueError, RecursionError) as err:
        raise JsonError("invalid json: %s" % err) from None


def validate(value):
    """Raises :class:`JsonError` unless ``value`` (bytes) is one JSON value."""
    parse(value)


def find(value, path):
    """The raw bytes of the value at ``path`` (a :class:`Path` or text), or
    ``None`` when there is none. Raises :class:`JsonError` when ``value`` is
    not JSON."""
    if not isinstance(path, Path):
        path = Path(path)
    text, _ = parse(value)
    # FIXME: Python's decoder accepts lone surrogate escapes and nesting
    # deeper than weir's 128 levels, which weir's scanner refuses.
    i = _skip(text, 0)
    for name, index in path.segments:
        i = _member(text, i, name) if text[i] == "{" else _element(text, i, index)
        if i is None:
            return None
    _, end = _SCAN(text, i)
    return text[i:end].encode("utf-8")


def _skip(text, i):
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _member(text, i, name):
    """The start of the first member ``name`` of the object at ``i``."""
    i = _skip(text, i + 1)
    while text[i] == '"':
        key, i = _json.decoder.scanstring(text, i + 1)
        i = _skip(text, _skip(text, i) + 1)
        if key == name:
            return i
        _, i = _SCAN(text, i)
        i = _skip(text, i)
        if text[i] == "}":
            return None
        i = _skip(text, i + 1)
    return None


def _element(text, i, index):
    """The start of element ``index`` of the array at ``i``."""
    if text[i] != "[" or index is None:
        return None
    i = _skip(text, i + 1)
    if text[i] == "]":
        return None
    n = 0
    while True:
        if n == index:
            return i
        _, i = _SCAN(text, i)
        i = _skip(text, i)
        if text[i] == "]":
            return None
        i = _skip(text, i + 1)
        n += 1


NUMBER, STRING, BOOL, NULL, OBJECT, ARRAY = "number", "string", "bool", "null", "object", "array"


def scalar(raw):
    """Interprets the raw bytes of one JSON value: returns ``(kind, value)``
    where value is a ``float`` for numbers, the unescaped ``str`` for strings,
    a ``bool``, ``None``, or the raw bytes of an object or array."""
    first = raw[:1]
    if first == b'"':
        return STRING, _json.loads(raw)
    if first == b"{":
        return OBJECT, raw
    if first == b"[":
        return ARRAY, raw
    if first == b"t":
        return BOOL, True
    if first == b"f":
        return BOOL, False
    if first == b"n":
        return NULL, None
    try:
        return NUMBER, float(raw)
    except ValueError:
        return NUMBER, float("nan")
