#!/usr/bin/env python3
"""Builds a Python weir plugin into a component.

    python3 sdk/python/build.py PLUGIN_DIR -o OUT.wasm [--wit WIT_DIR]

PLUGIN_DIR holds `weir-plugin.toml` (`world = "transform"` or `"validate"`,
and `state = true` for a transform that uses keyed state), `app.py` (the
module that defines `Transformer` or `Validator`) and optionally
`requirements.txt` (pure-Python packages only). The steps: install the
requirements into the build directory with pip, then `componentize-py
componentize`, which generates the bindings for the world from wit/ and
bundles the app, this SDK and the requirements with CPython. Each failing
step is named on one line after the tool's own output.

componentize-py makes a component import everything its world imports,
used or not, and weir opens a state store for every plugin that imports
`weir:plugin/state`. So a transform without `state = true` is built against
`transform` less that import: a world this script adds to a copy of the WIT
package in the build directory (see `STATELESS_WORLD`). Its exports are the
same, so weir runs it as any transform.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPONENTIZE_PY = "0.25.1"

# The world a transform without keyed state is built against, in a file
# added to (a copy of) weir's WIT package.
STATELESS_WORLD = "transform-without-state"
STATELESS_WIT = """package weir:plugin@0.1.0;

/// `transform` without keyed state, for a transform whose weir-plugin.toml
/// does not say `state = true`. Written by sdk/python/build.py.
world %s {
    import host;
    export transformer;
}
""" % STATELESS_WORLD


def step(name, command, **kwargs):
    try:
        done = subprocess.run(command, **kwargs)
    except FileNotFoundError:
        sys.exit(
            "weir: %s failed: `%s` not found; install it with `pip install componentize-py==%s`"
            % (name, command[0], COMPONENTIZE_PY)
        )
    if done.returncode != 0:
        sys.exit("weir: %s failed (exit status %d)" % (name, done.returncode))


def main():
    parser = argparse.ArgumentParser(description="build a Python weir plugin")
    parser.add_argument("plugin_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--wit", type=Path, default=HERE.parent.parent / "wit")
    parser.add_argument("--build-dir", type=Path)
    args = parser.parse_args()

    manifest = tomllib.loads((args.plugin_dir / "weir-plugin.toml").read_text())
    world = manifest.get("world")
    if world not in ("transform", "validate"):
        sys.exit("weir: weir-plugin.toml: `world` must be \"transform\" or \"validate\"")
    state = manifest.get("state", False)
    if not isinstance(state, bool):
        sys.exit("weir: weir-plugin.toml: `state` must be true or false")
    if state and world != "transform":
        sys.exit("weir: weir-plugin.toml: `state = true` needs `world = \"transform\"`: "
                 "only transforms have keyed state")
    build = args.build_dir or args.plugin_dir / "build"
    build.mkdir(parents=True, exist_ok=True)
    wit = args.wit
    if world == "transform" and not state:
        wit = stateless_wit(args.wit, build / "wit")
        world = STATELESS_WORLD
    paths = ["-p", str(args.plugin_dir.resolve()), "-p", str(HERE)]

    requirements = args.plugin_dir / "requirements.txt"
    if requirements.exists():
        # Reinstalled only when the requirements change.
        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
        site = build / ("site-packages-" + digest)
        if not site.exists():
            step(
                "installing requirements.txt with pip",
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--target", str(site) + ".tmp", "-r", str(requirements)],
            )
            os.rename(str(site) + ".tmp", site)
        paths += ["-p", str(site)]

    args.output.parent.mkdir(parents=True, exist_ok=True)
    step(
        "componentize-py componentize",
        ["componentize-py", "-q", "-d", str(wit), "-w", world, "--world-module", "weir_world",
         "componentize", *paths, "app", "-o", str(args.output)],
    )


def stateless_wit(source, target):
    """Copies the WIT package in ``source`` to ``target`` with the file that
    adds :data:`STATELESS_WORLD`; returns ``target``."""
    try:
        files = [source] if source.is_file() else sorted(source.glob("*.wit"))
        if not files:
            sys.exit("weir: %s holds no .wit file" % source)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for file in files:
            shutil.copyfile(file, target / file.name)
        (target / "build-worlds.wit").write_text(STATELESS_WIT)
    except OSError as err:
        sys.exit("weir: writing the WIT package to %s failed: %s" % (target, err))
    return target


if __name__ == "__main__":
    main()
