// Host-side tests of the JavaScript SDK: the frame layout, the per-batch glue
// and the JSON helpers, without WebAssembly. Run: node --test sdk/js/test

import { test } from "node:test";
import assert from "node:assert/strict";

import { Event, FrameError, Reject } from "../src/event.js";
import { decode, encode, Buffer } from "../src/frame.js";
import { Slot, transformBatch } from "../src/run.js";
import * as json from "../src/json.js";
import { StateError, bindMemoryState, bindState, clearMemoryState, NOT_BUILT_WITH_STATE } from "../src/state.js";

function batch(events) {
  const out = new Buffer();
  const ends = [];
  for (const e of events) {
    encode(e, out);
    ends.push(out.length);
  }
  return [out.view(), new Uint32Array(ends)];
}

test("encodes the documented layout and decodes it back", () => {
  const [data] = batch([new Event("v", { key: "k", headers: [["n", "x"]], time: 1n })]);
  assert.deepEqual([...data], [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 107, 1, 0, 0, 0, 1, 0, 0, 0, 110, 1, 0, 0, 0, 120, 118]);
  const event = decode(data, 0, data.length);
  assert.equal(event.text(), "v");
  assert.deepEqual([...event.key], [107]);
  assert.deepEqual([...event.header("n")], [120]);
  assert.equal(event.time, 1n);
  assert.throws(() => decode(data, 0, 5), new FrameError("truncated event time"));
});

class Script {
  transform(event, out) {
    const v = event.text();
    if (v === "drop") return;
    if (v === "bad") {
      out.emitValue("partial");
      throw new Reject("bad event");
    }
    out.keep();
    if (v === "twice") out.emitValue("again");
  }
}

test("transforms a batch and rolls back refused events", () => {
  const slot = new Slot(Script, (err) => { throw err; });
  assert.equal(slot.init([]), null);
  const [data, ends] = batch(["a", "drop", "bad", "twice", "b"].map((v) => new Event(v)));
  const { output, errors } = transformBatch(slot, data, ends);
  assert.deepEqual(output.origins, [0, 3, 3, 4]);
  assert.deepEqual(errors, [[2, "bad event"]]);
  assert.deepEqual(output.ends.slice(0, 2), [0, 0]);
  assert.equal(decode(output.frames.view(), 0, output.ends[2]).text(), "again");
});

test("finds raw fields like weir-json", () => {
  const value = new TextEncoder().encode('{"a": {"b": [1, {"c": "x\\u0041"}]}, "a": 2, "n": 1e3}');
  const text = (raw) => (raw === null ? null : new TextDecoder().decode(raw));
  assert.equal(text(json.find(value, "a.b.1.c")), '"x\\u0041"');
  assert.deepEqual(json.scalar(json.find(value, "a.b.1.c")), ["string", "xA"]);
  assert.equal(text(json.find(value, "a.b.0")), "1");
  assert.equal(json.find(value, "a.b.2"), null);
  assert.equal(text(json.find(value, "n")), "1e3");
  assert.throws(() => json.find(new TextEncoder().encode('{"a": NaN}'), "a"), json.JsonError);
  assert.throws(() => new json.Path("a..b"), new json.PathError("empty segment in field path `a..b`"));
});

// Numbers each key's events in keyed state; refuses "bad" after counting.
class Counter {
  transform(event, out) {
    const state = event.state;
    const stored = state.get("n");
    const n = (stored === null ? 0 : Number(new TextDecoder().decode(stored))) + 1;
    state.set("n", String(n), { ttlMs: 5 });
    if (event.text() === "bad") throw new Reject("bad");
    if (event.text() === "reset") state.delete("n");
    out.emitValue(String(n));
  }
}

test("keyed state is per key and named by the event's index", () => {
  clearMemoryState();
  const slot = new Slot(Counter, (err) => { throw err; });
  assert.equal(slot.init([]), null);
  const events = [["a", "x"], ["b", "x"], ["a", "reset"], ["a", "x"], ["a", "bad"]].map(
    ([key, value]) => new Event(value, { key }),
  );
  const [data, ends] = batch(events);
  const { output, errors } = transformBatch(slot, data, ends);
  const frames = output.frames.view();
  const values = output.ends.map((end, i) => decode(frames, i === 0 ? 0 : output.ends[i - 1], end).text());
  assert.deepEqual(values, ["1", "1", "2", "1"]);
  assert.deepEqual(errors, [[4, "bad"]]);
  assert.equal(decode(data, 0, ends[0], 7).state.index, 7);
  // Outside a component a refused event's changes stay (state.js says so).
  assert.equal(new TextDecoder().decode(decode(data, 0, ends[0], 0).state.get("n")), "2");
  clearMemoryState();
  assert.equal(decode(data, 0, ends[0], 0).state.get("n"), null);
});

test("keyed state refuses events without an index and bad arguments", () => {
  assert.throws(() => new Event("{}").state, StateError);
  const [data, ends] = batch([new Event("", { key: "k" })]);
  assert.throws(() => decode(data, 0, ends[0]).state, /given to a validator/);
  const state = decode(data, 0, ends[0], 0).state;
  assert.throws(() => state.get(1), new TypeError("state name must be a string, not number"));
  assert.throws(() => state.set("n", 1), new TypeError("state value for `n` must be a Uint8Array or a string"));
  assert.throws(() => state.set("n", "1", { ttlMs: 1.5 }), new TypeError("ttlMs must be a whole number, got 1.5"));
  assert.throws(() => state.set("n", "1", { ttlMs: -1 }), new RangeError("ttlMs must be between 0 and 2^64-1, got -1"));
  state.set("n", new Uint8Array([1, 2]), { ttlMs: (1n << 64n) - 1n });
  assert.deepEqual([...state.get("n")], [1, 2]);
  state.delete("n");
  state.delete("n");
  assert.equal(state.get("n"), null);
});

test("keyed state calls the import with the event's index, or says it was not built in", () => {
  const calls = [];
  bindState({
    get: (...args) => (calls.push(["get", ...args]), undefined),
    set: (...args) => calls.push(["set", ...args]),
    delete: (...args) => calls.push(["delete", ...args]),
  });
  try {
    const [data, ends] = batch([new Event("a"), new Event("b")]);
    const state = decode(data, ends[0], ends[1], 1).state;
    assert.equal(state.get("n"), null);
    state.set("n", "v");
    state.set("n", "v", { ttlMs: 3 });
    state.delete("n");
    assert.deepEqual(calls, [
      ["get", 1, "n"],
      ["set", 1, "n", new TextEncoder().encode("v"), undefined],
      ["set", 1, "n", new TextEncoder().encode("v"), 3n],
      ["delete", 1, "n"],
    ]);
    bindState(null);
    assert.throws(() => state.get("n"), new StateError(NOT_BUILT_WITH_STATE));
  } finally {
    bindMemoryState();
  }
});
