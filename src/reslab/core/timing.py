"""Where a stage process's time goes, for `bench/stage_time.py`.

When `RESLAB_TIMINGS` names a file, every stage process appends one JSON line to it at exit:
its command line, when the process started and when its `main` began (the difference is Python's
start-up and the imports), when it ended, and the seconds spent in each named `phase` (data
loading, training, per-epoch evaluation, test evaluation, gradient flow, writing outputs,
wandb). Unset, a phase costs two clock reads and nothing is written.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ENV = "RESLAB_TIMINGS"
PHASES = ("data", "train", "val", "test", "gradflow", "write", "wandb")
_seconds: dict[str, float] = {}
_main_start: list[float] = []


@contextmanager
def phase(name: str):
    """Add the time spent inside the block (or decorated function) to phase `name`; phases
    never nest."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _seconds[name] = _seconds.get(name, 0.0) + time.perf_counter() - start


def process_start() -> float:
    """This process's start, in `time.time()` seconds (Linux's /proc; else the main's start)."""
    try:  # ticks since boot; /proc/stat's boot time is in whole seconds, so measure back from now
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        since_start = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - since_start
    except (OSError, ValueError, IndexError, AttributeError):
        return _main_start[0] if _main_start else time.time()


def main_started() -> None:
    """Mark the start of the stage's `main` (`reslab.core.cli.run_stage`); arm the record."""
    if os.environ.get(ENV) and not _main_start:
        _main_start.append(time.time())
        atexit.register(_write, os.environ[ENV])


def _write(path: str) -> None:
    record = {"argv": [Path(sys.argv[0]).name, *sys.argv[1:]], "process_start": process_start(),
              "main_start": _main_start[0], "end": time.time(),
              "phases": {k: round(v, 4) for k, v in _seconds.items()}}
    with open(path, "a") as f:  # one short line per process: appends do not interleave
        f.write(json.dumps(record) + "\n")
