// weir's packed batch layout (`types.batch` in wit/weir.wit), guest side.
//
// A frame is, integers little-endian: the event time (s64), the key length
// (u32, 0xffffffff for no key) and key, the header count (u32) and for each
// header its name length (u32), name, value length (u32) and value; then the
// event value, which runs to the end of the frame. Nothing here imports the
// generated bindings, so Node runs it (and its tests) on the build machine.

import { Event, FrameError } from "./event.js";

const NO_KEY = 0xffffffff;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Decodes the frame `data[start, end)` into an Event; throws FrameError. A
 * transform passes the frame's `index` in the batch, for keyed state.
 */
export function decode(data, start, end, index = null) {
  if (end < start || end > data.length) throw new FrameError("frame end lies outside the batch");
  if (end - start < 8) throw new FrameError("truncated event time");
  if (end - start < 12) throw new FrameError("truncated key length");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const time = view.getBigInt64(start, true);
  const keyLen = view.getUint32(start + 8, true);
  let at = start + 12;
  let key = null;
  if (keyLen !== NO_KEY) {
    if (at + keyLen > end) throw new FrameError("truncated key");
    key = data.subarray(at, at + keyLen);
    at += keyLen;
  }
  if (at + 4 > end) throw new FrameError("truncated header count");
  const count = view.getUint32(at, true);
  at += 4;
  const headers = [];
  for (let i = 0; i < count; i++) {
    const name = sized(view, data, at, end);
    const value = sized(view, data, name.next, end);
    let text;
    try {
      text = utf8.decode(name.bytes);
    } catch {
      throw new FrameError("header name is not utf-8");
    }
    headers.push([text, value.bytes]);
    at = value.next;
  }
  const event = new Event(data.subarray(at, end), { key, headers, time });
  event._prefix = data.subarray(start, at);
  event._index = index;
  return event;
}

function sized(view, data, at, end) {
  if (at + 4 > end) throw new FrameError("truncated header");
  const len = view.getUint32(at, true);
  if (at + 4 + len > end) throw new FrameError("truncated header");
  return { bytes: data.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

/** A growable byte buffer: the output frames. */
export class Buffer {
  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(capacity);
    this.length = 0;
  }

  reserve(more) {
    if (this.length + more <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + more) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  push(bytes) {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  u32(value) {
    this.reserve(4);
    new DataView(this.bytes.buffer).setUint32(this.length, value, true);
    this.length += 4;
  }

  i64(value) {
    this.reserve(8);
    new DataView(this.bytes.buffer).setBigInt64(this.length, BigInt(value), true);
    this.length += 8;
  }

  view() {
    return this.bytes.subarray(0, this.length);
  }
}

/** Appends the frame of `event` to `out` (a Buffer). */
export function encode(event, out) {
  out.i64(event.time);
  if (event.key === null) {
    out.u32(NO_KEY);
  } else {
    out.u32(event.key.length);
    out.push(event.key);
  }
  out.u32(event.headers.length);
  for (const [name, value] of event.headers) {
    const bytes = encoder.encode(name);
    out.u32(bytes.length);
    out.push(bytes);
    out.u32(value.length);
    out.push(value);
  }
  out.push(event.value);
}

/** The frames, ends and origins of a transform's output, built in place. */
export class Output {
  constructor() {
    this.frames = new Buffer();
    this.ends = [];
    this.origins = [];
  }

  mark() {
    return [this.frames.length, this.ends.length];
  }

  rollback([frames, events]) {
    this.frames.length = frames;
    this.ends.length = events;
    this.origins.length = events;
  }

  closeFrame(origin) {
    this.ends.push(this.frames.length);
    this.origins.push(origin);
  }
}
