// The event a plugin sees, and the errors a plugin raises.

import { KeyedState, StateError } from "./state.js";

const encoder = new TextEncoder();

/** Bytes from a Uint8Array or a string (UTF-8). */
export function toBytes(value) {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/**
 * One event: `value` and `key` (Uint8Array; `key` is null when there is
 * none), `headers` ([name, Uint8Array] pairs) and `time` (a BigInt,
 * milliseconds since the Unix epoch). Build one to emit it:
 * `new Event('{"a":1}', { key: "k" })`. A transform's input event also has
 * `state`, its key's keyed state (state.js).
 */
export class Event {
  constructor(value, { key = null, headers = [], time = 0n } = {}) {
    this.value = toBytes(value);
    this.key = key === null ? null : toBytes(key);
    this.headers = headers.map(([n, v]) => [n, toBytes(v)]);
    this.time = BigInt(time);
    // The encoded time, key and headers of an input event, reused when a
    // transform replaces only the value.
    this._prefix = null;
    // The index of an input event in its batch, which keyed state names it
    // by; null for events built by the plugin and a validator's.
    this._index = null;
  }

  /**
   * The keyed state of this event's key in this stage (a KeyedState: `get`,
   * `set`, `delete`). Only a transform's input events have one.
   */
  get state() {
    if (this._index === null) {
      throw new StateError(
        "keyed state belongs to the input events of a transform; this event was built by the plugin or given to a validator",
      );
    }
    return new KeyedState(this._index, this.key);
  }

  /** The event value as text. */
  text() {
    return new TextDecoder().decode(this.value);
  }

  /** The value of the first header called `name`, or null. */
  header(name) {
    const found = this.headers.find(([n]) => n === name);
    return found ? found[1] : null;
  }
}

/** An input frame weir sent does not follow the packed layout. */
export class FrameError extends Error {
  constructor(what) {
    super(`malformed input frame: ${what}`);
    this.name = "FrameError";
  }
}

/**
 * Throw it to refuse the current event: it goes to the dead-letter output
 * with the message, and anything emitted for it is discarded. Any other
 * exception is a bug: it traps the instance.
 */
export class Reject extends Error {
  constructor(message) {
    super(message);
    this.name = "Reject";
  }
}

/**
 * Throw it from a plugin's constructor: the pipeline stops at start with
 * the message. Name the offending key, e.g. "config `op`: unknown operator".
 */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The stage's `config` table as ordered [key, value] strings. */
export class Config {
  constructor(entries) {
    this.entries = entries.map(([k, v]) => [String(k), String(v)]);
  }

  /** The value of `name`, or `fallback` when it is absent. */
  get(name, fallback = null) {
    const found = this.entries.find(([k]) => k === name);
    return found ? found[1] : fallback;
  }

  /** The value of `name`; throws ConfigError when it is absent. */
  require(name) {
    const value = this.get(name);
    if (value === null) throw new ConfigError(`missing config key \`${name}\``);
    return value;
  }

  [Symbol.iterator]() {
    return this.entries[Symbol.iterator]();
  }
}
