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
// (`transformer` or `validator`).
//
// A transform's input event has `event.state`, the keyed state of its key
// (`get(name)`, `set(name, value, { ttlMs })`, `delete(name)`; see
// state.js). A plugin that uses it says `state = true` in its
// weir-plugin.toml.

import * as log from "./log.js";
import * as json from "./json.js";
import { Slot, transformBatch, validateBatch, panicLine, Emitter } from "./run.js";
import { bindState } from "./state.js";
// build.js points this at state-import.js (which re-exports the component's
// `weir:plugin/state` import) for a plugin built with `state = true`, and at
// state-none.js otherwise.
import { imported as stateImport } from "weir-sdk-state-import";

bindState(stateImport);

export { Config, ConfigError, Event, FrameError, Reject } from "./event.js";
export { KeyedState, StateError } from "./state.js";
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
