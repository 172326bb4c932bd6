"""Passes every event on, except that a marked one (`"mark": true`) raises
RuntimeError: a bug, not a refusal, so the instance traps."""

import json

import weir_sdk as weir


class Panic(weir.Transform):
    def transform(self, event, out):
        value = json.loads(event.value)
        if value.get("mark"):
            raise RuntimeError("poisoned event %d" % value["id"])
        out.keep()


Transformer = weir.export_transform(Panic)
