"""Run the study under a named profile: a named DVC experiment with the profile's values as -S.

A profile (`profiles/<name>.yaml`) holds params.yaml overrides. DVC applies them itself, so every
effective value is in the experiment's params (`dvc exp show`, `dvc params diff`). By default
the experiment runs in a temporary copy of the project (`dvc exp run --temp`): params.yaml and
the workspace stay on the lab's recipe, and the results wait in the experiment until applied.

    reslab-profile quick                  # runs experiment quick-<date>-<time>
    dvc exp show                          # its params and metrics beside the others
    dvc exp apply quick-<date>-<time>     # its params, metrics, report and models into the
                                          # workspace (params.yaml then holds the profile)
    reslab-profile quick --workspace      # run in the workspace itself instead
    reslab-profile quick --dry-run        # print the dvc command only
    reslab-profile quick -- train_mlp     # anything after -- goes to `dvc exp run`
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from reslab.core.config import read_params
from reslab.core.errors import ConfigError
from reslab.datasets.sources import MIRROR_ENV

PROFILES = Path("profiles")


def flatten(overrides: dict, prefix: str = "") -> list[str]:
    """`{"a": {"b": 1}}` -> `["a.b=1"]`; every value JSON-quoted (valid YAML for DVC), so a
    string with a comma or reading `true` keeps its meaning."""
    out = []
    for key, value in overrides.items():
        if isinstance(value, dict):
            out += flatten(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}={json.dumps(value)}")
    return out


def command(name: str, extra: list[str], *, workspace: bool = False,
            exp_name: str | None = None) -> list[str]:
    path = PROFILES / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml"))) or "none"
        raise SystemExit(f"error: {path}: no such profile (known: {known})")
    try:
        overrides = read_params(path)  # params.yaml's reader: `1e-4` is a number, as there
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    sets = [arg for item in flatten(overrides) for arg in ("-S", item)]
    where = [] if workspace else ["--temp"]
    exp_name = exp_name or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return ["dvc", "exp", "run", *where, "--name", exp_name, *sets, *extra]


def environment() -> dict:
    """This environment with the mirror's path made absolute: a temporary or queued experiment
    runs in another folder, where a relative one would not be found (wandb's folder is found
    from DVC_ROOT: `reslab.core.track.wandb_dir`)."""
    env = dict(os.environ)
    if env.get(MIRROR_ENV):
        env[MIRROR_ENV] = str(Path(env[MIRROR_ENV]).resolve())
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="a file name in profiles/ without .yaml")
    parser.add_argument("--workspace", action="store_true",
                        help="run in the workspace: params.yaml keeps the profile's values")
    parser.add_argument("--name", help="experiment name (default: <profile>-<date>-<time>)")
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # for `dvc exp run`
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    cmd = command(args.profile, extra, workspace=args.workspace, exp_name=args.name)
    exp_name = cmd[cmd.index("--name") + 1]
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    code = subprocess.call(cmd, env=environment())
    if code == 0 and args.workspace:
        print(f"\nexperiment {exp_name} ran in the workspace: params.yaml now holds the "
              f"{args.profile} profile, so a plain `dvc repro` runs at its scale. Back to the "
              "lab's recipe: git checkout params.yaml")
    elif code == 0:
        print(f"\nexperiment {exp_name} is saved; params.yaml and the workspace are unchanged. "
              f"`dvc exp show` compares it, `dvc exp apply {exp_name}` brings its params, "
              "metrics, report and models into the workspace.")
    return code


if __name__ == "__main__":
    sys.exit(main())
