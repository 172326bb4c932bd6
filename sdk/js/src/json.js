// Find one field of a JSON value without reformatting anything.
//
// `find` validates the whole document with JSON.parse (strict RFC 8259 like
// weir's own scanner, except as the FIXME in `parse` says) and returns the
// raw bytes of the value at a dotted path, so a plugin can compare a field's
// exact JSON text. Path segments name object members; a segment of digits
// also indexes arrays (`items.0.sku`). When an object has a member twice, the
// first one is followed.

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The value is not JSON; the message says why. */
export class JsonError extends Error {
  constructor(message) {
    super(message);
    this.name = "JsonError";
  }
}

/** A field path is empty or has an empty segment. */
export class PathError extends Error {
  constructor(message) {
    super(message);
    this.name = "PathError";
  }
}

/** A parsed dotted field path such as `payer.country` or `items.0`. */
export class Path {
  constructor(text) {
    if (text === "") throw new PathError("empty field path");
    const parts = text.split(".");
    if (parts.some((p) => p === "")) throw new PathError(`empty segment in field path \`${text}\``);
    this.text = text;
    this.segments = parts.map((p) => [p, /^[0-9]+$/.test(p) ? Number(p) : null]);
  }

  toString() {
    return this.text;
  }
}

/** Parses `value` (Uint8Array) strictly: returns [text, parsed]. */
export function parse(value) {
  let text;
  try {
    text = utf8.decode(value);
  } catch {
    throw new JsonError("invalid json: invalid utf-8");
  }
  try {
    // FIXME: JSON.parse accepts lone surrogate escapes and any nesting
    // depth, which weir's scanner refuses, and words its errors its own way
    // ("Unexpected token ..." where weir says "invalid json at byte 7:
    // leading zero in number").
    return [text, JSON.parse(text)];
  } catch (err) {
    throw new JsonError(`invalid json: ${String(err.message).toLowerCase()}`);
  }
}

/**
 * The raw bytes of the value at `path` (a Path or text), or null when there
 * is none. Throws JsonError when `value` is not JSON.
 */
export function find(value, path) {
  if (!(path instanceof Path)) path = new Path(path);
  const [text] = parse(value);
  let i = skipSpace(text, 0);
  for (const [name, index] of path.segments) {
    i = text[i] === "{" ? member(text, i, name) : element(text, i, index);
    if (i < 0) return null;
  }
  return encoder.encode(text.slice(i, skipValue(text, i)));
}

function skipSpace(text, i) {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}

/** The index just past the string starting at `i` (a valid document). */
function skipString(text, i) {
  for (i++; ; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
}

/** The index just past the value starting at `i` (a valid document). */
function skipValue(text, i) {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c !== "{" && c !== "[") {
    while (i < text.length && !",}] \t\n\r".includes(text[i])) i++;
    return i;
  }
  let depth = 0;
  for (;;) {
    const d = text[i];
    if (d === '"') {
      i = skipString(text, i);
      continue;
    }
    if (d === "{" || d === "[") depth++;
    else if (d === "}" || d === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
}

function member(text, i, name) {
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const end = skipString(text, i);
    const key = JSON.parse(text.slice(i, end));
    i = skipSpace(text, skipSpace(text, end) + 1);
    if (key === name) return i;
    i = skipSpace(text, skipValue(text, i));
    if (text[i] === "}") return -1;
    i = skipSpace(text, i + 1);
  }
  return -1;
}

function element(text, i, index) {
  if (text[i] !== "[" || index === null) return -1;
  i = skipSpace(text, i + 1);
  if (text[i] === "]") return -1;
  for (let n = 0; ; n++) {
    if (n === index) return i;
    i = skipSpace(text, skipValue(text, i));
    if (text[i] === "]") return -1;
    i = skipSpace(text, i + 1);
  }
}

/**
 * Interprets the raw bytes of one JSON value: returns [kind, value], kind
 * one of "number" (a Number), "string" (the unescaped text), "bool", "null",
 * "object" or "array" (the raw bytes).
 */
export function scalar(raw) {
  switch (raw[0]) {
    case 0x22:
      return ["string", JSON.parse(new TextDecoder().decode(raw))];
    case 0x7b:
      return ["object", raw];
    case 0x5b:
      return ["array", raw];
    case 0x74:
      return ["bool", true];
    case 0x66:
      return ["bool", false];
    case 0x6e:
      return ["null", null];
    default: {
      const n = Number(new TextDecoder().decode(raw));
      return ["number", n];
    }
  }
}
