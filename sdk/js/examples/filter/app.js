// filter: keeps the events whose JSON field compares true against a
// configured value and drops the rest; the same behaviour and messages as
// plugins/filter (its README is the specification).

import { ConfigError, Reject, exportTransform, json } from "weir-sdk";

const OPS = ["==", "!=", "<", ">", "<=", ">=", "contains"];
const encoder = new TextEncoder();

/** Whether `ordering` (-1, 0, 1, or null for NaN) satisfies `op`. */
function holds(op, ordering) {
  if (ordering === null) return op === "!=";
  switch (op) {
    case "==": return ordering === 0;
    case "!=": return ordering !== 0;
    case "<": return ordering < 0;
    case ">": return ordering > 0;
    case "<=": return ordering <= 0;
    default: return ordering >= 0;
  }
}

function compareNumbers(a, b) {
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function contains(haystack, needle) {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return needle.length === 0;
}

class Filter {
  constructor(config) {
    try {
      this.field = new json.Path(config.require("field"));
    } catch (err) {
      if (err instanceof json.PathError) throw new ConfigError(`config \`field\`: ${err.message}`);
      throw err;
    }
    this.op = config.require("op");
    if (!OPS.includes(this.op)) {
      throw new ConfigError(
        `config \`op\`: unknown operator \`${this.op}\`, expected one of ==, !=, <, >, <=, >=, contains`,
      );
    }
    this.value = encoder.encode(config.require("value"));
    this.missing = config.get("missing", "drop");
    if (!["drop", "keep", "reject"].includes(this.missing)) {
      throw new ConfigError(
        `config \`missing\`: unknown value \`${this.missing}\`, expected one of drop, keep, reject`,
      );
    }
    // The value as a number, when it is a JSON number.
    this.number = null;
    try {
      const [text] = json.parse(this.value);
      const [kind, number] = json.scalar(encoder.encode(text.trim()));
      if (kind === "number") this.number = number;
    } catch (err) {
      if (!(err instanceof json.JsonError)) throw err;
    }
  }

  transform(event, out) {
    let raw;
    try {
      raw = json.find(event.value, this.field);
    } catch (err) {
      if (err instanceof json.JsonError) throw new Reject(`value is not json: ${err.message}`);
      throw err;
    }
    if (raw === null) {
      if (this.missing === "reject") throw new Reject(`field \`${this.field}\` is missing`);
      if (this.missing === "keep") out.keep();
      return;
    }
    if (this.matches(raw)) out.keep();
  }

  matches(raw) {
    const [kind, field] = json.scalar(raw);
    if (kind === "number" && this.number !== null) {
      if (this.op === "contains") return contains(raw, this.value);
      return holds(this.op, compareNumbers(field, this.number));
    }
    // Strings compare their unescaped text; anything else its JSON text.
    const text = kind === "string" ? encoder.encode(field) : raw;
    if (this.op === "contains") return contains(text, this.value);
    return holds(this.op, compareBytes(text, this.value));
  }
}

export const transformer = exportTransform(Filter);
