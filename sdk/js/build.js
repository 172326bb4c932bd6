#!/usr/bin/env node
// Builds a JavaScript weir plugin into a component.
//
//     node sdk/js/build.js PLUGIN_DIR -o OUT.wasm [--wit WIT_DIR] [--build-dir DIR]
//
// PLUGIN_DIR holds weir-plugin.toml (`world = "transform"` or "validate",
// and `state = true` for a transform that uses keyed state), app.js (the
// module that exports `transformer` or `validator`) and optionally
// package.json with its npm dependencies (run `npm install` there first).
// The steps: bundle app.js, this SDK (imported as "weir-sdk") and the
// dependencies into one module with rolldown, then componentize-js, which
// generates the bindings for the world from wit/ and wraps the module with
// the StarlingMonkey engine. Nothing is downloaded: the ahead-of-time option
// (which fetches a tool) stays off. Each failing step is named on one line
// after the tool's own output.
//
// componentize-js makes a component import everything its world imports,
// used or not, and weir opens a state store for every plugin that imports
// `weir:plugin/state`. So a transform without `state = true` is built
// against `transform` less that import (STATELESS_WORLD, added to the WIT
// text given to componentize-js), and the SDK's state module is bound to
// nothing (src/state-none.js instead of src/state-import.js). Its exports
// are the same, so weir runs it as any transform.

import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));

// The world a transform without keyed state is built against, added to
// weir's WIT package.
const STATELESS_WORLD = "transform-without-state";
const STATELESS_WIT = `
/// \`transform\` without keyed state, for a transform whose weir-plugin.toml
/// does not say \`state = true\`. Added by sdk/js/build.js.
world ${STATELESS_WORLD} {
    import host;
    export transformer;
}
`;

function fail(step, err) {
  console.error(err && err.stack ? err.stack : String(err));
  console.error(`weir: ${step} failed`);
  process.exit(1);
}

async function load(step, name) {
  try {
    return await import(name);
  } catch (err) {
    fail(step, `${err.message}\nrun \`npm ci\` in ${HERE} (or \`cargo xtask sdk-deps\`)`);
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    output: { type: "string", short: "o" },
    wit: { type: "string", default: join(HERE, "..", "..", "wit") },
    "build-dir": { type: "string" },
  },
});
if (positionals.length !== 1 || !values.output) {
  console.error("usage: node build.js PLUGIN_DIR -o OUT.wasm [--wit WIT_DIR] [--build-dir DIR]");
  process.exit(2);
}
const pluginDir = resolve(positionals[0]);
const buildDir = resolve(values["build-dir"] ?? join(pluginDir, "build"));

let manifest;
try {
  manifest = await readFile(join(pluginDir, "weir-plugin.toml"), "utf8");
} catch (err) {
  fail("reading weir-plugin.toml", err);
}
const world = /^\s*world\s*=\s*"([a-z-]+)"/m.exec(manifest)?.[1];
if (world !== "transform" && world !== "validate") {
  fail("reading weir-plugin.toml", 'weir-plugin.toml: `world` must be "transform" or "validate"');
}
const stateLine = /^\s*state\s*=(.*)$/m.exec(manifest);
const stateValue = stateLine ? stateLine[1].replace(/#.*/, "").trim() : "false";
if (stateValue !== "true" && stateValue !== "false") {
  fail("reading weir-plugin.toml", "weir-plugin.toml: `state` must be true or false");
}
const state = stateValue === "true";
if (state && world !== "transform") {
  fail(
    "reading weir-plugin.toml",
    'weir-plugin.toml: `state = true` needs `world = "transform"`: only transforms have keyed state',
  );
}
const stateless = world === "transform" && !state;

await mkdir(buildDir, { recursive: true });
const bundlePath = join(buildDir, "bundle.js");
const { rolldown } = await load("loading rolldown", "rolldown");
try {
  const bundle = await rolldown({
    input: join(pluginDir, "app.js"),
    cwd: pluginDir,
    platform: "neutral",
    resolve: {
      alias: {
        "weir-sdk": join(HERE, "src", "index.js"),
        "weir-sdk-state-import": join(HERE, "src", state ? "state-import.js" : "state-none.js"),
      },
    },
    external: [/^weir:/, /^wasi:/],
    logLevel: "warn",
  });
  await bundle.write({ file: bundlePath, format: "es" });
  await bundle.close();
} catch (err) {
  fail("bundling app.js with rolldown", err);
}

// componentize-js reads a WIT path through a WASI shim that cannot see
// absolute paths outside its preopened directory (this is the "path error"
// `jco componentize` fails with), so the WIT text is passed instead. That
// works for a package in one file, which wit/ is.
let witText;
try {
  const wit = resolve(values.wit);
  const files = (await stat(wit)).isDirectory()
    ? (await readdir(wit)).filter((f) => f.endsWith(".wit")).map((f) => join(wit, f))
    : [wit];
  if (files.length !== 1) throw new Error(`${wit}: expected one .wit file, found ${files.length}`);
  witText = await readFile(files[0], "utf8");
  if (stateless) witText += STATELESS_WIT;
} catch (err) {
  fail("reading the WIT package", err);
}

const { componentize } = await load("loading componentize-js", "@bytecodealliance/componentize-js");
try {
  const { component } = await componentize({
    sourcePath: bundlePath,
    witWorld: witText,
    worldName: stateless ? STATELESS_WORLD : world,
    // No HTTP: plugins get no network. stdio stays for error messages.
    disableFeatures: ["http", "fetch-event"],
    // Libraries read `location.origin` at load time (@cfworker/json-schema
    // does, for its default base URI); the engine has no location outside a
    // request unless one is set for initialisation.
    runtimeArgs: "--init-location https://plugin.weir.invalid/",
  });
  await mkdir(dirname(resolve(values.output)), { recursive: true });
  await writeFile(resolve(values.output), component);
} catch (err) {
  fail("componentize-js", err);
}
