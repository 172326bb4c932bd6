// Host-side tests of the JavaScript SDK: the frame layout, the per-batch glue
// and the JSON helpers, without WebAssembly. Run: node --test sdk/js/test

import { test } from "node:test";
import assert from "node:assert/strict";

import { Event, FrameError, Reject } from "../src/event.js";
import { decode, encode, Buffer } from "../src/frame.js";
import { Slot, transformBatch } from "../src/run.js";
import * as json from "../src/json.js";

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
