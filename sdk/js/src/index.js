// FIXME: keyed state (`weir:plugin/state`, `Event::state` in the Rust SDK)
// has no JavaScript helper yet; the Rust SDK is the only one that offers it.
// Write weir plugins in JavaScript.
//
// A plugin is a class: a transform (`transform(event, out)`: an event in,
// zero or more out) or a validator (`validate(event)`: pass, or throw
// Reject). The SDK hides the component bindings and weir's packed batch
// layout; the plugin sees one Event at a time:
//
//     import { exportTransform } from "weir-sdk";
//
//     class Upper {
//       constructor(config) { this.suffix = config.get("suffix", ""); }
//       transform(event, out) { out.emitValue(event.text().toUpperCase() + this.suffix); }
//     }
//
//     export const transformer = exportTransform(Upper);
//
// The component exports the interface named by the `export const`
// (`transformer` or `validator`). Keyed state is not part of weir's contract
// yet, so the SDK has none.

import * as log from "./log.js";
import * as json from "./json.js";
import { Slot, transformBatch, validateBatch, panicLine, Emitter } from "./run.js";

export { Config, ConfigError, Event, FrameError, Reject } from "./event.js";
export { Emitter, json, log };

/**
 * Traps the instance after one line about `err` on stderr. componentize-js
 * would print the error and its stack over several lines after which weir
 * would show only the last; one "panicked at" line is what weir looks for.
 */
function crash(err) {
  console.error(panicLine(err));
  // An uncaught error in an export traps the component.
  throw err;
}

/** The `transformer` export, running instances of `PluginClass`. */
export function exportTransform(PluginClass) {
  const slot = new Slot(PluginClass, crash);
  return {
    init(config) {
      const message = slot.init(config);
      if (message !== null) throw message;
    },
    transform(input) {
      const { output, errors } = transformBatch(slot, input.frames, input.ends);
      return {
        events: { frames: output.frames.view(), ends: new Uint32Array(output.ends) },
        origins: new Uint32Array(output.origins),
        errors: errors.map(([index, message]) => ({ index, message })),
      };
    },
  };
}

/** The `validator` export, running instances of `PluginClass`. */
export function exportValidator(PluginClass) {
  const slot = new Slot(PluginClass, crash);
  return {
    init(config) {
      const message = slot.init(config);
      if (message !== null) throw message;
    },
    validate(input) {
      return validateBatch(slot, input.frames, input.ends).map(([index, message]) => ({ index, message }));
    },
  };
}
