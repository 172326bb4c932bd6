#!/bin/sh
# Builds the C plugin project in PLUGIN_DIR (its *.c files) into a weir
# component:
#   sdk/c/build.sh PLUGIN_DIR -o plugin.wasm [--adapter ADAPTER] [--build-dir DIR]
# Steps: `wit-bindgen c` for the world named in PLUGIN_DIR/weir-plugin.toml;
# clang (wasm32-wasi, wasi-libc, a reactor) over the bindings, the SDK and
# the plugin; `wasm-tools component new` with the WASI preview 1 reactor
# adapter (default: target/wasi-adapter/wasi_snapshot_preview1.reactor.wasm,
# written by `cargo xtask sdk-deps`). CC and CFLAGS override the compiler.
set -eu
sdk=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$sdk/../.." && pwd)
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
case "$world" in
  transform) define=WEIR_WORLD_TRANSFORM ;;
  validate) define=WEIR_WORLD_VALIDATE ;;
  *) echo "build.sh: no world = \"transform\" or \"validate\" in $project/weir-plugin.toml" >&2; exit 1 ;;
esac
build=${build:-$(mktemp -d)}
mkdir -p "$build/bindings"
step() { echo "build.sh: $1 failed" >&2; exit 1; }
wit-bindgen c "$root/wit" --world "$world" --out-dir "$build/bindings" >/dev/null || step "wit-bindgen c"
${CC:-clang} --target=wasm32-wasi -mexec-model=reactor ${CFLAGS:--O2 -Wall -Wextra -Werror=implicit-function-declaration} \
  -D_GNU_SOURCE -D$define -I "$sdk/include" -I "$build/bindings" \
  "$build/bindings/$world.c" "$build/bindings/${world}_component_type.o" \
  "$sdk/src/weir.c" "$sdk/src/json.c" "$project"/*.c \
  -Wl,--strip-debug -o "$build/core.wasm" || step "clang"
wasm-tools component new "$build/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out" || step "wasm-tools component new"
