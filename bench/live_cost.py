"""What a stage pays for its live progress: reslab's `write_progress` after an epoch against
DVCLive (DVC's logger, not a reslab dependency: `pip install dvclive` to compare), started in a
stage of this DVC repository as a training stage would start it.

    python bench/live_cost.py            # from the repository root
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reslab.core.live import write_progress

EPOCHS = 20
ROW = {"epoch": 1, "train_loss": 1.0, "train_acc": 50.0, "val_loss": 1.1, "val_acc": 48.0,
       "lr": 1e-3}

DVCLIVE = """
import time, sys
start = time.perf_counter()
from dvclive import Live
imported = time.perf_counter()
live = Live(sys.argv[1], dvcyaml=False, save_dvc_exp=False)
opened = time.perf_counter()
for epoch in range({epochs}):
    for name, value in {row}.items():
        live.log_metric(name, value)
    live.next_step()
live.end()
done = time.perf_counter()
print(imported - start, opened - imported, (done - opened) / {epochs})
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live" / "metrics.json"
        history, start = [], time.perf_counter()
        for epoch in range(1, EPOCHS + 1):
            history.append({**ROW, "epoch": epoch})
            write_progress(path, "train_cnn@20-residual-0", EPOCHS, history, epoch, 1.0 * epoch)
        ours = (time.perf_counter() - start) / EPOCHS
        print(f"reslab write_progress: {ours * 1e3:.2f} ms an epoch ({EPOCHS} epochs), "
              "nothing at start-up")
        # as DVC starts a stage: DVC_ROOT set, so DVCLive takes its pipeline path
        env = {**os.environ, "DVC_ROOT": os.getcwd()}
        proc = subprocess.run([sys.executable, "-c", DVCLIVE.format(epochs=EPOCHS, row=ROW),
                               str(Path(tmp) / "dvclive")], capture_output=True, text=True,
                              env=env)
        if proc.returncode != 0:
            missing = "No module named 'dvclive'" in proc.stderr
            print("DVCLive: not installed here (pip install dvclive)" if missing else
                  proc.stderr.strip().splitlines()[-1])
            return
        imported, opened, step = map(float, proc.stdout.split())
        print(f"DVCLive: import {imported:.2f} s, Live() {opened:.2f} s (it opens the DVC "
              f"repository), then {step * 1e3:.2f} ms an epoch")


if __name__ == "__main__":
    main()
