"""json-schema: rejects events whose JSON value does not match a JSON Schema;
the same behaviour as plugins/json-schema (its README is the specification),
with the `jsonschema` package's wording for each violation.

The rejection reason lists up to ten violations as `<instance location>:
<problem>`, separated by `; `. The locations match the Rust plugin's; the
problems are worded by Python's jsonschema (`'abc' is not of type 'number'`
where the Rust plugin says `"abc" is not of type "number"`), and several
violations may come in another order.
"""

import json as stdjson

import jsonschema

import weir_sdk as weir
from weir_sdk import json

MAX_REPORTED = 10


def _match_subschema_ids(value):
    for keyword in jsonschema.validators._SUBSCHEMAS_KEYWORDS:
        if isinstance(value.get(keyword), str):
            yield keyword, value


# FIXME: jsonschema 4.17 takes a *property named* "$id" (the draft 6 and 7
# meta-schemas have one) for a subschema's id, and inside the component
# (CPython of componentize-py 0.25.1) resolving a `$ref` then reaches it and
# fails hashing a dict; checking any draft-7 schema at init trapped. Only
# string ids are ids, so only those are collected. Remove with a jsonschema
# that has no such bug and no native dependency.
jsonschema.validators._match_subschema_keywords = _match_subschema_ids

# componentize-py runs this module at build time and snapshots the result;
# at run time a plugin has no file system. jsonschema reads its meta-schemas
# and vocabularies from package files on first use, so use every draft once
# now, while the files are there.
for _draft in (
    jsonschema.Draft202012Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft4Validator,
):
    _draft.check_schema({"$ref": "#"})


def external_ref(schema):
    """The first `$ref` that points outside the schema, or None."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return ref
        children = schema.values()
    elif isinstance(schema, list):
        children = schema
    else:
        return None
    for child in children:
        found = external_ref(child)
        if found is not None:
            return found
    return None


def location(error):
    path = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path)
    return path or "/"


class SchemaCheck(weir.Validator):
    def __init__(self, config):
        text = config.require("schema")
        try:
            schema = stdjson.loads(text)
        except ValueError as err:
            raise weir.ConfigError("config `schema`: not json: %s" % err) from None
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as err:
            raise weir.ConfigError("config `schema`: invalid schema: %s" % err.message) from None
        ref = external_ref(schema)
        if ref is not None:
            # No file system or network in a plugin: such a $ref could never
            # be resolved.
            raise weir.ConfigError(
                "config `schema`: invalid schema: cannot resolve `%s`: only references inside the schema work"
                % ref
            )
        self.validator = cls(schema)

    def validate(self, event):
        try:
            _, instance = json.parse(event.value)
        except json.JsonError as err:
            raise weir.Reject("value is not json: %s" % err) from None
        problems = []
        more = 0
        for error in self.validator.iter_errors(instance):
            if len(problems) < MAX_REPORTED:
                problems.append("%s: %s" % (location(error), error.message))
            else:
                more += 1
        if more:
            problems.append("and %d more" % more)
        if problems:
            raise weir.Reject("; ".join(problems))


Validator = weir.export_validator(SchemaCheck)
