"""How every stage script starts and ends: one-line errors, a clean Ctrl-C, nonzero exits."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from reslab.core import timing
from reslab.core.errors import ReslabError


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: a short message and a resumable checkpoint."""


def _terminate(signum, frame):
    raise Terminated


def run_stage(main: Callable[[list[str]], None], argv: list[str] | None = None) -> int:
    """Run a stage's `main`; expected failures print `error: ...` on one line and exit 1.

    Ctrl-C and SIGTERM stop it with one line and no traceback; training stages have saved
    their last finished epoch under `.resume/`, so re-running resumes there.
    """
    timing.main_started()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        main(sys.argv[1:] if argv is None else argv)
    except ReslabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print("interrupted: outputs not written; training stages resume from the last finished "
              "epoch when re-run", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    return 0


def depth_variant(argv: list[str], description: str) -> tuple[int, str]:
    """`--depth D --arch {plain,residual}`: one variant of a depth-study matrix stage."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--arch", choices=["plain", "residual"], required=True)
    args = parser.parse_args(argv)
    return args.depth, args.arch
