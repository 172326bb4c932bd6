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


class Counter(weir.Transform):
    """Numbers each key's events in keyed state; refuses `bad` after counting."""

    def transform(self, event, out):
        state = event.state
        n = int(state.get("n") or b"0") + 1
        state.set("n", str(n), ttl_ms=5)
        if event.value == b"bad":
            raise weir.Reject("bad")
        if event.value == b"reset":
            state.delete("n")
        out.emit_value(b"%d" % n)


def test_keyed_state_is_per_key_and_named_by_the_event_index():
    weir.state.clear()
    events = [weir.Event(v, key=k) for k, v in [(b"a", b"x"), (b"b", b"x"), (b"a", b"reset"), (b"a", b"x"), (b"a", b"bad")]]
    data, ends = batch(events)
    output, errors = weir.transform_batch(Counter(None), data, ends)
    values = [_frame.decode(bytes(output.frames), s, e).value for _, s, e in _frame.frames(bytes(output.frames), output.ends)]
    assert values == [b"1", b"1", b"2", b"1"]
    assert errors == [(4, "bad")]
    assert output.origins == [0, 1, 2, 3]
    # Outside a component a refused event's changes stay (the module says so).
    assert weir.Event(b"", key=b"a", _index=0).state.get("n") == b"2"
    assert _frame.decode(data, 0, ends[0], 7).state._index == 7
    weir.state.clear()
    assert weir.Event(b"", key=b"a", _index=0).state.get("n") is None


def test_keyed_state_refuses_events_without_an_index_and_bad_arguments():
    with pytest.raises(weir.StateError, match="input events of a transform"):
        weir.Event(b"{}").state
    state = weir.Event(b"", key=b"k", _index=0).state
    with pytest.raises(TypeError, match="state name must be a str, not bytes"):
        state.get(b"n")
    with pytest.raises(TypeError, match="state value for `n` must be bytes or str, not int"):
        state.set("n", 1)
    with pytest.raises(TypeError, match="ttl_ms must be an int, not float"):
        state.set("n", b"1", ttl_ms=1.5)
    with pytest.raises(ValueError, match="ttl_ms must be between 0 and 2\\*\\*64-1, got -1"):
        state.set("n", b"1", ttl_ms=-1)
    state.set("n", bytearray(b"v"), ttl_ms=(1 << 64) - 1)
    assert state.get("n") == b"v"
    state.delete("n")
    state.delete("n")
    assert state.get("n") is None


def test_a_validator_event_has_no_keyed_state():
    # validate_batch decodes without an index, as a validator has no state.
    data, ends = batch([weir.Event(b"x", key=b"k")])
    with pytest.raises(weir.StateError, match="given to a validator"):
        _frame.decode(data, 0, ends[0]).state
