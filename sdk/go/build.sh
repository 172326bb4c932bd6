#!/bin/sh
# Builds the Go plugin project in PLUGIN_DIR into a weir component:
#   sdk/go/build.sh PLUGIN_DIR -o plugin.wasm [--adapter ADAPTER] [--build-dir DIR]
# Steps: `go build` for wasip1 (a reactor, -buildmode=c-shared), `wasm-tools
# component embed` of the world named in PLUGIN_DIR/weir-plugin.toml, and
# `wasm-tools component new` with the WASI preview 1 reactor adapter
# (default: target/wasi-adapter/wasi_snapshot_preview1.reactor.wasm, written
# by `cargo xtask sdk-deps`).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
project= out= build= adapter="$root/target/wasi-adapter/wasi_snapshot_preview1.reactor.wasm"
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --adapter) adapter=$2; shift 2 ;;
    *) project=$1; shift ;;
  esac
done
[ -n "$project" ] && [ -n "$out" ] || { echo "usage: build.sh PLUGIN_DIR -o OUT.wasm [--adapter A] [--build-dir D]" >&2; exit 2; }
[ -f "$adapter" ] || { echo "build.sh: the wasi adapter $adapter is missing; run \`cargo xtask sdk-deps\`" >&2; exit 1; }
world=$(sed -n 's/^world *= *"\([a-z-]*\)".*/\1/p' "$project/weir-plugin.toml")
[ -n "$world" ] || { echo "build.sh: no world = \"transform\" or \"validate\" in $project/weir-plugin.toml" >&2; exit 1; }
build=${build:-$(mktemp -d)}
mkdir -p "$build"
step() { echo "build.sh: $1 failed" >&2; exit 1; }
(cd "$project" && GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o "$build/core.wasm" .) || step "go build"
wasm-tools component embed "$root/wit" --world "$world" "$build/core.wasm" -o "$build/embedded.wasm" || step "wasm-tools component embed"
wasm-tools component new "$build/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out" || step "wasm-tools component new"
