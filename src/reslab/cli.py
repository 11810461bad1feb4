"""How every stage script starts and ends: one-line errors, a clean Ctrl-C, nonzero exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from reslab.errors import ReslabError


def run_stage(main: Callable[[list[str]], None], argv: list[str] | None = None) -> int:
    """Run a stage's `main`; expected failures print `error: ...` on one line and exit 1."""
    try:
        main(sys.argv[1:] if argv is None else argv)
    except ReslabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the last finished epoch is saved; re-run to resume", file=sys.stderr)
        return 130
    return 0


def depth_variant(argv: list[str], description: str) -> tuple[int, str]:
    """`--depth D --arch {plain,residual}`: the variant of a depth-study matrix stage."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--arch", choices=["plain", "residual"], required=True)
    args = parser.parse_args(argv)
    return args.depth, args.arch
