"""filter: keeps the events whose JSON field compares true against a
configured value and drops the rest; the same behaviour and messages as
plugins/filter (its README is the specification)."""

import weir_sdk as weir
from weir_sdk import json

OPS = ("==", "!=", "<", ">", "<=", ">=", "contains")


def holds(op, ordering):
    """Whether ``ordering`` (-1, 0, 1, or None for NaN) satisfies ``op``."""
    if ordering is None:
        return op == "!="
    return {
        "==": ordering == 0,
        "!=": ordering != 0,
        "<": ordering < 0,
        ">": ordering > 0,
        "<=": ordering <= 0,
        ">=": ordering >= 0,
    }[op]


def compare(a, b):
    if a != a or b != b:
        return None
    return (a > b) - (a < b)


class Filter(weir.Transform):
    def __init__(self, config):
        try:
            self.field = json.Path(config.require("field"))
        except json.PathError as err:
            raise weir.ConfigError("config `field`: %s" % err) from None
        self.op = config.require("op")
        if self.op not in OPS:
            raise weir.ConfigError(
                "config `op`: unknown operator `%s`, expected one of "
                "==, !=, <, >, <=, >=, contains" % self.op
            )
        self.value = config.require("value")
        self.missing = config.get("missing", "drop")
        if self.missing not in ("drop", "keep", "reject"):
            raise weir.ConfigError(
                "config `missing`: unknown value `%s`, expected one of drop, keep, reject"
                % self.missing
            )
        # The value as a number, when it is a JSON number.
        self.number = None
        try:
            kind, number = json.scalar(json.parse(self.value.encode())[0].strip().encode())
            if kind == json.NUMBER:
                self.number = number
        except json.JsonError:
            pass
        self.value_bytes = self.value.encode()

    def transform(self, event, out):
        try:
            raw = json.find(event.value, self.field)
        except json.JsonError as err:
            raise weir.Reject("value is not json: %s" % err) from None
        if raw is None:
            if self.missing == "reject":
                raise weir.Reject("field `%s` is missing" % self.field)
            if self.missing == "keep":
                out.keep()
            return
        if self.matches(raw):
            out.keep()

    def matches(self, raw):
        kind, field = json.scalar(raw)
        if kind == json.NUMBER and self.number is not None:
            if self.op == "contains":
                return self.value_bytes in raw
            return holds(self.op, compare(field, self.number))
        # Strings compare their unescaped text; anything else its JSON text.
        text = field.encode("utf-8") if kind == json.STRING else raw
        if self.op == "contains":
            return self.value_bytes in text
        return holds(self.op, compare(text, self.value_bytes))


Transformer = weir.export_transform(Filter)
