// sequence: numbers the events of each key with weir's keyed state; the
// same behaviour and messages as plugins/sequence (its doc comment is the
// specification).
//
// Each event that is a JSON object gets a member `"seq":N` in front, where
// N counts the events of its key-by key so far, this one included. Config
// (optional): `field`, the member's name (default `seq`); `ttl_ms`, how long
// after a key's last event its count is kept (by event time). An event
// whose value is not a JSON object is refused.

import { ConfigError, Reject, exportTransform, json } from "weir-sdk";

// The state name the count is stored under: 8 bytes, a little-endian u64.
const COUNT = "count";
const U64_MAX = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/** Whether `byte` is ASCII whitespace as Rust's `u8::is_ascii_whitespace` says. */
function isAsciiWhitespace(byte) {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d;
}

/** `bytes` without ASCII whitespace at either end (Rust's `trim_ascii`). */
function trimAscii(bytes) {
  let start = 0;
  let end = bytes.length;
  while (start < end && isAsciiWhitespace(bytes[start])) start++;
  while (end > start && isAsciiWhitespace(bytes[end - 1])) end--;
  return bytes.subarray(start, end);
}

/**
 * `text` as a JSON string, escaped as weir-json's `push_string` does:
 * quote, backslash and control characters only.
 */
function jsonString(text) {
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === "\\") out += "\\\\";
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return out + '"';
}

class Sequence {
  constructor(config) {
    const field = config.get("field", "seq");
    if (field === "") throw new ConfigError("config `field`: must not be empty");
    this.member = encoder.encode(`${jsonString(field)}:`);
    this.ttlMs = null;
    const text = config.get("ttl_ms");
    if (text !== null) {
      // What Rust's `str::parse::<u64>` accepts, then the range check.
      const ttl = /^\+?[0-9]+$/.test(text) ? BigInt(text) : 0n;
      if (ttl <= 0n || ttl > U64_MAX) {
        throw new ConfigError(
          `config \`ttl_ms\`: expected a positive whole number of milliseconds, got \`${text}\``,
        );
      }
      this.ttlMs = ttl;
    }
  }

  /** `value` with the member for `n` in front, if it is a JSON object. */
  numbered(value, n) {
    try {
      json.parse(value);
    } catch (err) {
      if (!(err instanceof json.JsonError)) throw err;
      throw new Reject(`value is not json: ${err.message}`);
    }
    const text = trimAscii(value);
    if (text.length < 2 || text[0] !== 0x7b || text[text.length - 1] !== 0x7d) {
      throw new Reject("value is not a json object");
    }
    const inner = text.subarray(1, text.length - 1);
    const number = encoder.encode(String(n));
    const rest = trimAscii(inner).length > 0 ? inner.length + 1 : 0;
    const out = new Uint8Array(1 + this.member.length + number.length + rest + 1);
    let at = 0;
    out[at++] = 0x7b;
    out.set(this.member, at);
    at += this.member.length;
    out.set(number, at);
    at += number.length;
    if (rest > 0) {
      out[at++] = 0x2c;
      out.set(inner, at);
      at += inner.length;
    }
    out[at] = 0x7d;
    return out;
  }

  transform(event, out) {
    const state = event.state;
    const stored = state.get(COUNT);
    let seen = 0n;
    if (stored !== null) {
      if (stored.length !== 8) throw new Reject(`stored count is ${stored.length} bytes, not 8`);
      seen = new DataView(stored.buffer, stored.byteOffset, 8).getBigUint64(0, true);
    }
    // u64 arithmetic, as in the Rust plugin's release build.
    const n = BigInt.asUintN(64, seen + 1n);
    const value = this.numbered(event.value, n);
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigUint64(0, n, true);
    state.set(COUNT, count, { ttlMs: this.ttlMs });
    out.emitValue(value);
  }
}

export const transformer = exportTransform(Sequence);
