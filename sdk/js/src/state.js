// Keyed state: small named values weir keeps per key-by key for a transform
// stage, so that a plugin remembers what it has seen of a key (a running
// count, the last value) without keeping anything itself:
//
//     class FirstPerKey {
//       transform(event, out) {
//         if (event.state.get("seen") === null) {
//           event.state.set("seen", "1");
//           out.keep();
//         }
//       }
//     }
//
// `event.state` is the state of that event's key in this stage; a plugin
// cannot reach another key's. Values are Uint8Arrays under string names.
// Changes made for an event take effect only when `transform` returns: an
// event it refuses (Reject) leaves state as it was, and so does a call that
// traps (weir retries the batch in parts). Within a batch, events see the
// changes made before them, also those made for an event that was then
// refused: check an event before changing state for it. The pipeline needs
// a `[key_by]`; a value set with `ttlMs` expires when the watermark passes
// the event's time plus `ttlMs`, so expiry needs an `[event_time]`.
//
// A component imports weir's `state` interface only when its
// weir-plugin.toml says `state = true` (build.js then builds the `transform`
// world and binds this module to the import; without it, the same world
// less keyed state, so that weir opens no state store for the plugin).
// Using `event.state` in a component built without it throws StateError,
// which traps with a line saying so.
//
// Outside a component (Node tests) the state is an in-memory map keyed by
// the event's key, which `clearMemoryState()` empties; `ttlMs` is not
// applied there, and changes for a refused event are kept.

const encoder = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;

export const NOT_BUILT_WITH_STATE =
  "keyed state is not in this component: add `state = true` to weir-plugin.toml and rebuild the plugin";

/**
 * Keyed state was used where it cannot be: from an event that is not a
 * transform's input, or in a component built without `state = true`. It is
 * a bug in the plugin, so it traps rather than refusing the event.
 */
export class StateError extends Error {
  constructor(message) {
    super(message);
    this.name = "StateError";
  }
}

/** Outside a component: a map keyed by the event's key and the name. */
class MemoryState {
  constructor() {
    this.values = new Map();
  }

  slot(state, name) {
    const key = state.key === null ? "none" : `key:${Array.from(state.key).join(",")}`;
    return `${key}\u0000${name}`;
  }

  get(state, name) {
    const value = this.values.get(this.slot(state, name));
    return value === undefined ? null : value.slice();
  }

  set(state, name, value) {
    this.values.set(this.slot(state, name), value.slice());
  }

  delete(state, name) {
    this.values.delete(this.slot(state, name));
  }
}

const memory = new MemoryState();

/** A component built without the `state` import. */
const unavailable = {
  get() {
    throw new StateError(NOT_BUILT_WITH_STATE);
  },
  set() {
    throw new StateError(NOT_BUILT_WITH_STATE);
  },
  delete() {
    throw new StateError(NOT_BUILT_WITH_STATE);
  },
};

let backend = memory;

/**
 * Binds keyed state to the component's `weir:plugin/state` import
 * (`{ get, set, delete }` as generated), or to `null` for a component
 * built without it. index.js calls it once; Node tests never do.
 */
export function bindState(imported) {
  if (imported === null) {
    backend = unavailable;
    return;
  }
  backend = {
    get: (state, name) => imported.get(state.index, name) ?? null,
    set: (state, name, value, ttlMs) => imported.set(state.index, name, value, ttlMs),
    delete: (state, name) => imported.delete(state.index, name),
  };
}

/** Binds keyed state to the in-memory map, as it is outside a component. */
export function bindMemoryState() {
  backend = memory;
}

/** Forgets every value of the in-memory state used outside a component. */
export function clearMemoryState() {
  memory.values.clear();
}

function checkName(name) {
  if (typeof name !== "string") throw new TypeError(`state name must be a string, not ${typeof name}`);
  return name;
}

/** The keyed state of one input event's key; see the comment above. */
export class KeyedState {
  constructor(index, key) {
    this.index = index;
    this.key = key;
  }

  /** The value (a Uint8Array) stored under `name`, or null. */
  get(name) {
    return backend.get(this, checkName(name));
  }

  /**
   * Stores `value` (a Uint8Array, or a string as UTF-8) under `name`. With
   * `{ ttlMs }` (a number or BigInt from 0 to 2^64-1) the value expires once
   * the watermark passes this event's time plus `ttlMs`.
   */
  set(name, value, { ttlMs } = {}) {
    checkName(name);
    let bytes;
    if (typeof value === "string") bytes = encoder.encode(value);
    else if (value instanceof Uint8Array) bytes = value;
    else throw new TypeError(`state value for \`${name}\` must be a Uint8Array or a string`);
    let ttl;
    if (ttlMs !== undefined && ttlMs !== null) {
      if (typeof ttlMs === "number" && !Number.isInteger(ttlMs)) {
        throw new TypeError(`ttlMs must be a whole number, got ${ttlMs}`);
      }
      if (typeof ttlMs !== "number" && typeof ttlMs !== "bigint") {
        throw new TypeError(`ttlMs must be a number or a BigInt, not ${typeof ttlMs}`);
      }
      ttl = BigInt(ttlMs);
      if (ttl < 0n || ttl > U64_MAX) throw new RangeError(`ttlMs must be between 0 and 2^64-1, got ${ttl}`);
    }
    backend.set(this, name, bytes, ttl);
  }

  /** Deletes the value stored under `name` (nothing when there is none). */
  delete(name) {
    backend.delete(this, checkName(name));
  }
}
