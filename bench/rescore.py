"""Re-score every saved model independently and compare with its metrics file.

For each training stage's checkpoint under models/, rebuild the network from the checkpoint
alone, run the prepared test split through it in a plain fp32 NCHW loop (none of the engine's
code: no autocast, no channels_last, no batch loader), and compare the accuracy with the
`test_acc` its stage wrote. The linear probes are re-scored as the whole saved network on
images, not on the features they trained on. Exit status 1 if any differs by more than
--tolerance points.

    python bench/rescore.py                  # in a project where the study has run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from reslab.core.config import read_params
from reslab.models.build import build_model


def test_split(dataset: str):
    with np.load(f"data/prepared/{dataset}.npz") as f:
        return (torch.from_numpy(f["x_test"]), torch.from_numpy(f["y_test"]),
                torch.from_numpy(f["mean"]), torch.from_numpy(f["std"]))


@torch.no_grad()
def accuracy(model: torch.nn.Module, split, batch: int = 500) -> float:
    x_all, y_all, mean, std = split
    model.eval().float()
    correct = 0
    for i in range(0, len(y_all), batch):
        x = x_all[i:i + batch].permute(0, 3, 1, 2).float() / 255
        x = (x - mean[None, :, None, None]) / std[None, :, None, None]
        correct += (model(x).argmax(1) == y_all[i:i + batch]).sum().item()
    return 100.0 * correct / len(y_all)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tolerance", type=float, default=0.05, help="points of accuracy")
    args = parser.parse_args()
    params = read_params()
    datasets = {"train_mlp": params["train_mlp"]["dataset"],
                "train_cnn": params["train_cnn"]["dataset"],
                "improve_cnn": params["improve_cnn"]["dataset"]}
    splits, rows = {}, []
    for ckpt in sorted(Path("models").rglob("*.pt")):
        stage = ckpt.relative_to("models").parts[0].removesuffix(".pt")
        metrics = Path("metrics", ckpt.relative_to("models")).with_suffix(".json")
        if not metrics.exists():
            continue
        dataset = datasets.get(stage, params["transfer"]["dataset"])
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model = build_model(state["meta"])
        model.load_state_dict(state["state_dict"])
        split = splits.setdefault(dataset, test_split(dataset))
        ours, theirs = accuracy(model, split), json.loads(metrics.read_text())["test_acc"]
        rows.append((str(ckpt.relative_to("models").with_suffix("")), theirs, ours))
    if not rows:
        print("no saved model with its metrics under models/ and metrics/: run the study first")
        return 1
    print("| model | metrics test_acc | re-scored (fp32, plain loop) | difference |\n"
          "|---|---|---|---|")
    for name, theirs, ours in rows:
        print(f"| {name} | {theirs:.4f} | {ours:.4f} | {ours - theirs:+.4f} |")
    worst = max(abs(ours - theirs) for _, theirs, ours in rows)
    print(f"{len(rows)} models, largest difference {worst:.4f} points "
          f"(tolerance {args.tolerance})")
    return int(worst > args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
