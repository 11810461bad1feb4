"""Where one run of a profile spends its time, stage by stage.

Runs `reslab-profile <profile>` with every stage forced (`dvc exp run -f`, so the run cache
restores nothing) and `RESLAB_TIMINGS` set (`reslab.core.timing`): each stage process records
its start-up and imports, data loading, training, per-epoch evaluation, test evaluation,
gradient flow, writing outputs and wandb; the rest of a process is `other` (model building,
analysis, figures). DVC's own time is the wall time left outside the stage processes. Prints one
row per stage family and the totals, and saves the records (`--out`, by default a new file
named by the time) so `--load` prints them again.

    python bench/stage_time.py                       # the quick profile, offline mirror set
    python bench/stage_time.py --load bench/stage_time-f768598-avx512.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from reslab.core.timing import PHASES

PARTS = ("start-up", *PHASES, "other")


def family(argv: list[str]) -> str:
    """A stage process's stage family: `train_cnn`, `finetune_ft1`, ... from its command line."""
    script = Path(argv[0]).stem
    if script == "finetune":
        return f"finetune_{argv[1]}"
    if script == "analyze_study":
        return f"analyze_{argv[1].removeprefix('train_')}"
    return script


def breakdown(record: dict) -> dict[str, float]:
    """One process's seconds per part; `other` is what no phase covered."""
    total = record["end"] - record["process_start"]
    parts = {"start-up": record["main_start"] - record["process_start"], **record["phases"]}
    parts["other"] = total - sum(parts.values())
    return parts | {"total": total}


def table(records: list[dict], wall: float) -> str:
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    count: dict[str, int] = defaultdict(int)
    for r in records:
        fam = family(r["argv"])
        count[fam] += 1
        for k, v in breakdown(r).items():
            rows[fam][k] += v
    header = ["stage", "n", *PARTS, "total"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals: dict[str, float] = defaultdict(float)
    for fam, parts in rows.items():
        lines.append("| " + " | ".join([fam, str(count[fam]), *(
            f"{parts.get(p, 0.0):.1f}" for p in (*PARTS, "total"))]) + " |")
        for p in (*PARTS, "total"):
            totals[p] += parts.get(p, 0.0)
    lines.append("| **all stages** | " + str(len(records)) + " | " + " | ".join(
        f"**{totals[p]:.1f}**" for p in (*PARTS, "total")) + " |")
    dvc = wall - totals["total"]
    lines.append(f"\nwall {wall:.1f} s = stage processes {totals['total']:.1f} s + DVC and the "
                 f"time between stages {dvc:.1f} s")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workspace", action="store_true", help="run in the workspace")
    parser.add_argument("--out", type=Path,
                        help="where to save the records (default: bench/stage_time-<time>.json)")
    parser.add_argument("--load", type=Path, help="print a saved run instead of running one")
    args = parser.parse_args()
    out = args.out or Path(f"bench/stage_time-{time.strftime('%Y%m%d-%H%M%S')}.json")
    if args.load:
        saved = json.loads(args.load.read_text())
        print(f"{saved['cpu']}; {saved['command']}")
        print(table(saved["records"], saved["wall"]))
        return 0
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        log = Path(f.name)
    cmd = ["reslab-profile", args.profile, *(["--workspace"] if args.workspace else []),
           "--", "-f"]
    cpu = (f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
           f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '')!s}")
    start = time.time()
    code = subprocess.call(cmd, env=dict(os.environ, RESLAB_TIMINGS=str(log)))
    wall = time.time() - start
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    log.unlink()
    out.write_text(json.dumps({"cpu": cpu, "command": " ".join(cmd), "wall": wall,
                                    "exit": code, "records": records}, indent=1))
    print(f"{cpu}; {' '.join(cmd)} (exit {code})")
    print(table(records, wall))
    return code


if __name__ == "__main__":
    sys.exit(main())
