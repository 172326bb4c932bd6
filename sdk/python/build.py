#!/usr/bin/env python3
"""Builds a Python weir plugin into a component.

    python3 sdk/python/build.py PLUGIN_DIR -o OUT.wasm [--wit WIT_DIR]

PLUGIN_DIR holds `weir-plugin.toml` (`world = "transform"` or `"validate"`),
`app.py` (the module that defines `Transformer` or `Validator`) and
optionally `requirements.txt` (pure-Python packages only). The steps:
install the requirements into the build directory with pip, then
`componentize-py componentize`, which generates the bindings for the world
from wit/ and bundles the app, this SDK and the requirements with CPython.
Each failing step is named on one line after the tool's own output.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPONENTIZE_PY = "0.25.1"


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
    build = args.build_dir or args.plugin_dir / "build"
    build.mkdir(parents=True, exist_ok=True)
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
        ["componentize-py", "-q", "-d", str(args.wit), "-w", world, "--world-module", "weir_world",
         "componentize", *paths, "app", "-o", str(args.output)],
    )


if __name__ == "__main__":
    main()
