"""Host-side tests of the Python SDK: the frame layout, the per-batch glue
and the JSON helpers, without WebAssembly. Run: python3 -m pytest sdk/python/tests"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import weir_sdk as weir  # noqa: E402
from weir_sdk import _frame, json  # noqa: E402


def batch(events):
    data, ends = bytearray(), []
    for event in events:
        _frame.encode(event, data)
        ends.append(len(data))
    return bytes(data), ends


def test_encodes_the_documented_layout():
    out = bytearray()
    _frame.encode(weir.Event(b"v", key=b"k", headers=[("n", b"x")], time=1), out)
    assert bytes(out) == bytes(
        [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, ord("k"), 1, 0, 0, 0, 1, 0, 0, 0, ord("n"), 1, 0, 0, 0, ord("x"), ord("v")]
    )
    out = bytearray()
    _frame.encode(weir.Event(b""), out)
    assert bytes(out) == bytes([0] * 8 + [255] * 4 + [0] * 4)


def test_decodes_what_it_encodes_and_refuses_truncated_frames():
    event = weir.Event(b'{"a":1}', key=b"k-1", headers=[("trace", b"t1"), ("h\u00e9", b"\x00\xff")], time=-5)
    data, ends = batch([event])
    assert _frame.decode(data, 0, ends[0]) == event
    with pytest.raises(weir.FrameError):
        _frame.decode(data, 0, 5)
    assert str(weir.FrameError("truncated key")) == "malformed input frame: truncated key"


class Script(weir.Transform):
    def transform(self, event, out):
        if event.value == b"drop":
            return
        if event.value == b"bad":
            out.emit_value(b"partial")
            raise weir.Reject("bad event")
        if event.value == b"twice":
            out.keep()
            out.emit_value(b"again")
            return
        out.keep()


def test_transforms_a_batch_and_rolls_back_refused_events():
    data, ends = batch([weir.Event(v) for v in (b"a", b"drop", b"bad", b"twice", b"b")])
    output, errors = weir.transform_batch(Script(None), data, ends)
    assert output.origins == [0, 3, 3, 4]
    assert errors == [(2, "bad event")]
    assert output.ends[:2] == [0, 0]
    assert _frame.decode(bytes(output.frames), 0, output.ends[2]).value == b"again"


def test_refuses_every_event_before_init():
    data, ends = batch([weir.Event(b"a"), weir.Event(b"b")])
    _, errors = weir.transform_batch(None, data, ends)
    assert [i for i, _ in errors] == [0, 1]


def test_finds_raw_fields_like_weir_json():
    value = b'{"a": {"b": [1, {"c": "x\\u0041"}]}, "a": 2, "n": 1e3}'
    assert json.find(value, "a.b.1.c") == b'"x\\u0041"'
    assert json.scalar(json.find(value, "a.b.1.c")) == (json.STRING, "xA")
    assert json.find(value, "a.b.0") == b"1"
    assert json.find(value, "a.b.2") is None
    assert json.find(value, "n") == b"1e3"
    assert json.find(value, "missing") is None
    with pytest.raises(json.JsonError):
        json.find(b'{"a": NaN}', "a")
    with pytest.raises(json.PathError, match="empty segment in field path `a..b`"):
        json.Path("a..b")
