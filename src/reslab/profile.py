"""Run the study under a named profile: `dvc exp run` with the profile's values as `-S` flags.

A profile (`profiles/<name>.yaml`) holds params.yaml overrides. They are applied by DVC itself,
so every effective value is in the experiment's params.yaml (`dvc exp show`, `dvc params diff`)
and params.yaml on disk keeps the lab's recipe.

    reslab-profile quick                 # the whole study on a 2-core CPU in about 20 minutes
    reslab-profile quick --dry-run       # print the dvc command instead of running it
    reslab-profile quick -- --queue      # anything after -- goes to `dvc exp run`
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

PROFILES = Path("profiles")


def flatten(overrides: dict, prefix: str = "") -> list[str]:
    """`{"a": {"b": 1}}` -> `["a.b=1"]`; lists and scalars as JSON (valid YAML for DVC)."""
    out = []
    for key, value in overrides.items():
        if isinstance(value, dict):
            out += flatten(value, f"{prefix}{key}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(f"{prefix}{key}={text}")
    return out


def command(name: str, extra: list[str]) -> list[str]:
    path = PROFILES / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml"))) or "none"
        raise SystemExit(f"error: {path}: no such profile (known: {known})")
    overrides = yaml.safe_load(path.read_text()) or {}
    sets = [arg for item in flatten(overrides) for arg in ("-S", item)]
    return ["dvc", "exp", "run", *sets, *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="a file name in profiles/ without .yaml")
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    parser.add_argument("extra", nargs="*", help="arguments for `dvc exp run` (after --)")
    args = parser.parse_args(argv)
    cmd = command(args.profile, args.extra)
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
