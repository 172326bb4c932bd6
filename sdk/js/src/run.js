// The per-batch glue between the exports and a plugin: decoding frames,
// calling the plugin once per event and packing the results. Nothing here
// imports the generated bindings, so Node runs it on the build machine.

import { decode, encode, Output } from "./frame.js";
import { Config, ConfigError, FrameError, Reject, toBytes } from "./event.js";

export const NOT_INITIALISED = "plugin is not initialised: init was not called or failed";

/** Collects what one input event becomes. Emitting nothing drops it. */
export class Emitter {
  constructor(out, origin, event) {
    this._out = out;
    this._origin = origin;
    this._input = event;
  }

  /** Passes the input event on unchanged, without copying it. */
  keep() {
    this._out.closeFrame(this._origin);
  }

  /** Emits the input event with `value` (Uint8Array or string) as its value. */
  emitValue(value) {
    this._out.frames.push(this._input._prefix);
    this._out.frames.push(toBytes(value));
    this._out.closeFrame(this._origin);
  }

  /** Emits `event` (an Event) as it is. */
  emit(event) {
    encode(event, this._out.frames);
    this._out.closeFrame(this._origin);
  }
}

/** Where the plugin instance lives between calls. */
export class Slot {
  constructor(PluginClass, crash) {
    this.PluginClass = PluginClass;
    this.crash = crash;
    this.plugin = null;
  }

  /** Creates the instance; returns an error message or null. */
  init(entries) {
    this.plugin = null;
    try {
      this.plugin = new this.PluginClass(new Config(entries));
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      this.crash(err);
    }
    return null;
  }
}

/** Runs a transform over one batch: returns { output, errors }. */
export function transformBatch(slot, data, ends) {
  const output = new Output();
  const errors = [];
  let start = 0;
  for (let index = 0; index < ends.length; index++) {
    const end = ends[index];
    const frameStart = start;
    start = Math.max(start, end);
    if (slot.plugin === null) {
      errors.push([index, NOT_INITIALISED]);
      continue;
    }
    let event;
    try {
      event = decode(data, frameStart, end, index);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      errors.push([index, err.message]);
      continue;
    }
    const mark = output.mark();
    try {
      slot.plugin.transform(event, new Emitter(output, index, event));
    } catch (err) {
      if (!(err instanceof Reject)) slot.crash(err);
      output.rollback(mark);
      errors.push([index, err.message]);
    }
  }
  return { output, errors };
}

/** Runs a validator over one batch: returns the [index, message] rejected. */
export function validateBatch(slot, data, ends) {
  const errors = [];
  let start = 0;
  for (let index = 0; index < ends.length; index++) {
    const end = ends[index];
    const frameStart = start;
    start = Math.max(start, end);
    if (slot.plugin === null) {
      errors.push([index, NOT_INITIALISED]);
      continue;
    }
    try {
      slot.plugin.validate(decode(data, frameStart, end));
    } catch (err) {
      if (!(err instanceof Reject || err instanceof FrameError)) slot.crash(err);
      errors.push([index, err.message]);
    }
  }
  return errors;
}

/**
 * One line about an error: `plugin panicked at <where>: <Name>: <message>`,
 * where is the top frame of its stack. weir explains a trap with the last
 * line a plugin wrote to stderr that says "panicked at".
 */
export function panicLine(err) {
  const name = err && err.name ? err.name : "Error";
  const message = err && err.message !== undefined ? err.message : String(err);
  const stack = err && typeof err.stack === "string" ? err.stack : "";
  const top = stack.split("\n").find((line) => line.trim() !== "") || "";
  const where = top.includes("@") ? top.slice(top.lastIndexOf("@") + 1) : "<unknown>";
  return `plugin panicked at ${where}: ${name}: ${message}`.replace(/\n/g, " ");
}
