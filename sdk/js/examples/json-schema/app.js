// json-schema: rejects events whose JSON value does not match a JSON
// Schema; the same behaviour as plugins/json-schema (its README is the
// specification), with @cfworker/json-schema's wording for each violation.
//
// The rejection reason lists up to ten violations as `<instance location>:
// <problem>`, separated by `; `. The locations match the Rust plugin's; the
// problems are worded by @cfworker/json-schema (`Instance type "string" is
// invalid. Expected "number".`), and several may come in another order.
// @cfworker/json-schema interprets schemas (no code generation, which the
// engine inside a component does not allow) and knows drafts 4, 7, 2019-09
// and 2020-12; a draft-06 schema is checked as draft 7.

import { Validator } from "@cfworker/json-schema";
import { ConfigError, Reject, exportValidator, json } from "weir-sdk";

const MAX_REPORTED = 10;
const TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"];
// Keywords whose errors only say that a subschema failed; the subschema's own
// errors, deeper in the instance, say how (the Rust plugin lists only those).
const SUMMARIES = new Set([
  "properties", "items", "prefixItems", "additionalItems", "additionalProperties",
  "patternProperties", "unevaluatedProperties", "unevaluatedItems", "contains",
  "propertyNames", "dependentSchemas", "allOf", "$ref", "$dynamicRef", "$recursiveRef",
]);

function draftOf(schema) {
  const uri = typeof schema === "object" && schema !== null ? schema.$schema ?? "" : "";
  if (uri.includes("draft-04")) return "4";
  if (uri.includes("draft-06") || uri.includes("draft-07")) return "7";
  if (uri.includes("2019-09")) return "2019-09";
  return "2020-12";
}

// FIXME: this checks only `type` values and `$ref` targets, not the whole
// meta-schema as the Rust plugin does: @cfworker/json-schema ships no
// meta-schemas, so some invalid schemas are accepted at init.
function checkSchema(schema, path = "") {
  if (Array.isArray(schema)) {
    schema.forEach((child, i) => checkSchema(child, `${path}/${i}`));
    return;
  }
  if (typeof schema !== "object" || schema === null) return;
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  for (const type of types) {
    if (!TYPES.includes(type)) {
      throw new ConfigError(`config \`schema\`: invalid schema: ${JSON.stringify(type)} is not a valid type at ${path || "/"}`);
    }
  }
  if (typeof schema.$ref === "string" && !schema.$ref.startsWith("#")) {
    // No file system or network in a plugin: such a $ref never resolves.
    throw new ConfigError(
      `config \`schema\`: invalid schema: cannot resolve \`${schema.$ref}\`: only references inside the schema work`,
    );
  }
  for (const [key, child] of Object.entries(schema)) {
    if (key !== "enum" && key !== "const" && key !== "default" && key !== "examples") {
      checkSchema(child, `${path}/${key}`);
    }
  }
}

function location(instanceLocation) {
  const pointer = instanceLocation.replace(/^#/, "");
  return pointer === "" ? "/" : pointer;
}

class SchemaCheck {
  constructor(config) {
    const text = config.require("schema");
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config \`schema\`: not json: ${err.message}`);
    }
    if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
      throw new ConfigError(`config \`schema\`: invalid schema: ${text.trim()} is not of types "boolean", "object"`);
    }
    checkSchema(schema);
    this.validator = new Validator(schema, draftOf(schema), false);
  }

  validate(event) {
    let instance;
    try {
      instance = json.parse(event.value)[1];
    } catch (err) {
      if (err instanceof json.JsonError) throw new Reject(`value is not json: ${err.message}`);
      throw err;
    }
    const { valid, errors } = this.validator.validate(instance);
    if (valid) return;
    const leaves = errors.filter(
      (e) =>
        !SUMMARIES.has(e.keyword) ||
        !errors.some((d) => d !== e && d.instanceLocation.startsWith(`${e.instanceLocation}/`)),
    );
    const problems = leaves.slice(0, MAX_REPORTED).map((e) => `${location(e.instanceLocation)}: ${e.error}`);
    if (leaves.length > MAX_REPORTED) problems.push(`and ${leaves.length - MAX_REPORTED} more`);
    throw new Reject(problems.join("; "));
  }
}

export const validator = exportValidator(SchemaCheck);
