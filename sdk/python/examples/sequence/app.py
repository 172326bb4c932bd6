"""sequence: numbers the events of each key with weir's keyed state; the
same behaviour and messages as plugins/sequence (its doc comment is the
specification).

Each event that is a JSON object gets a member ``"seq":N`` in front, where
``N`` counts the events of its key-by key so far, this one included. Config
(optional): ``field``, the member's name (default ``seq``); ``ttl_ms``, how
long after a key's last event its count is kept (by event time). An event
whose value is not a JSON object is refused.
"""

import re

import weir_sdk as weir
from weir_sdk import json

# The state name the count is stored under: 8 bytes, a little-endian u64.
COUNT = "count"
U64_MAX = (1 << 64) - 1
# What Rust's `str::parse::<u64>` accepts, before the range check.
WHOLE_NUMBER = re.compile(r"\+?[0-9]+")
# Rust's `u8::is_ascii_whitespace`, which the Rust plugin trims with.
ASCII_WHITESPACE = b" \t\n\x0c\r"


def json_string(text):
    """``text`` as a JSON string, escaped as weir-json's ``push_string``
    does: quote, backslash and control characters only."""
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


class Sequence(weir.Transform):
    def __init__(self, config):
        field = config.get("field", "seq")
        if field == "":
            raise weir.ConfigError("config `field`: must not be empty")
        self.member = (json_string(field) + ":").encode("utf-8")
        self.ttl_ms = None
        text = config.get("ttl_ms")
        if text is not None:
            ttl = int(text) if WHOLE_NUMBER.fullmatch(text) else 0
            if not 0 < ttl <= U64_MAX:
                raise weir.ConfigError(
                    "config `ttl_ms`: expected a positive whole number of milliseconds, "
                    "got `%s`" % text
                )
            self.ttl_ms = ttl

    def numbered(self, value, n):
        """``value`` with the member for ``n`` in front, if it is a JSON object."""
        try:
            json.validate(value)
        except json.JsonError as err:
            raise weir.Reject("value is not json: %s" % err) from None
        text = value.strip(ASCII_WHITESPACE)
        if not (text.startswith(b"{") and text.endswith(b"}")):
            raise weir.Reject("value is not a json object")
        inner = text[1:-1]
        out = b"{" + self.member + str(n).encode()
        if inner.strip(ASCII_WHITESPACE):
            out += b"," + inner
        return out + b"}"

    def transform(self, event, out):
        state = event.state
        stored = state.get(COUNT)
        if stored is None:
            seen = 0
        elif len(stored) != 8:
            raise weir.Reject("stored count is %d bytes, not 8" % len(stored))
        else:
            seen = int.from_bytes(stored, "little")
        # u64 arithmetic, as in the Rust plugin's release build.
        n = (seen + 1) & U64_MAX
        value = self.numbered(event.value, n)
        state.set(COUNT, n.to_bytes(8, "little"), ttl_ms=self.ttl_ms)
        out.emit_value(value)


Transformer = weir.export_transform(Sequence)
