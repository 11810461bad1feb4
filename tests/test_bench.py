"""The benchmarks: the throughput one counts only the images each pipeline really trained on;
the time-to-accuracy and GPU scripts run as users run them, at toy size."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision import datasets, transforms

from conftest import load_script
from reslab.batches.loader import Prepared, Split
from reslab.models.mlp import MLP

BENCH = Path(__file__).parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # the scripts import their shared lab-style module


throughput = load_script(BENCH / "throughput.py")
import labstyle  # noqa: E402


def counting_mlp(seen: list[int]) -> MLP:
    """A tiny MNIST-shaped MLP that records the batch size of every training forward."""
    net = MLP(depth=2, width=8, residual=False, num_classes=10, in_shape=(4, 4, 1))
    net.register_forward_hook(lambda m, inp, out: seen.append(len(inp[0])) if m.training else None)
    return net


def tiny_data(n: int = 7) -> Prepared:
    split = Split(torch.randint(0, 256, (n, 4, 4, 1), dtype=torch.uint8), torch.arange(n) % 10)
    return Prepared(split, split, split, [str(i) for i in range(10)], torch.zeros(1), torch.ones(1))


def test_ours_trains_on_every_image_it_counts_even_past_the_end_of_the_split():
    seen = []
    run = throughput.ours(counting_mlp(seen), tiny_data(7), 4, None, False, False)
    assert run(5) > 0
    assert seen == [4] * 5  # 20 images from a 7-image split: it wraps round, none are invented


def test_ours_runs_what_auto_chooses_and_says_so():
    from reslab.models.cnn import CNN
    from reslab.train import precision

    images = Split(torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8), torch.arange(8) % 2)
    data = Prepared(images, images, images, ["a", "b"], torch.zeros(3), torch.ones(3))
    chosen = []
    model = CNN(depth=9, width=8, residual=True, num_classes=2, in_channels=3)
    assert throughput.ours(model, data, 4, None, chosen=chosen)(2) > 0
    assert chosen == [precision.choose("auto", "auto", model, torch.device("cpu"))]
    line = throughput.eval_speed(model, data, [2, 4], n=8)
    assert re.fullmatch(r"fp32 evaluation, (channels_last|NCHW), img/s by batch size: "
                        r"2: [\d,]+, 4: [\d,]+", line), line


def test_lab_style_goes_on_to_new_epochs_and_step_only_reuses_one_batch():
    data = tiny_data(7)
    ds = labstyle.lab_dataset(datasets.MNIST, data.train.x, data.train.y, transforms.ToTensor())
    calls = []
    ds.transform = lambda img: (calls.append(1), transforms.functional.to_tensor(img))[1]
    seen = []
    assert labstyle.lab_style(counting_mlp(seen), ds, 4)(5) > 0
    assert seen == [4, 3, 4, 3, 4] and len(calls) == 18  # every image through the transform
    calls.clear()
    seen.clear()
    assert labstyle.lab_style(counting_mlp(seen), ds, 4, step_only=True)(5) > 0
    assert seen == [4] * 5 and len(calls) == 4  # one batch drawn, up front


@pytest.mark.slow
def test_time_to_accuracy_prints_its_table_and_ratio(workspace_template, tmp_path, monkeypatch,
                                                     capsys):
    """A toy run of the script as a user runs it, from a folder with prepared CIFAR-10."""
    tta = load_script(BENCH / "time_to_accuracy.py")
    monkeypatch.chdir(workspace_template)
    monkeypatch.setattr(sys, "argv", ["time_to_accuracy.py", "--train-subset", "40",
                                      "--width", "8", "--epochs", "2", "--our-epochs", "1"])
    tta.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert "| epoch | lab's way: val acc |" in "\n".join(lines)
    assert re.fullmatch(r"time-to-accuracy ratio: (\d+\.\d\dx|n/a)", lines[-1]), lines[-1]


def test_time_to_accuracy_target_is_first_reached_at_its_epoch():
    first_reaching = load_script(BENCH / "time_to_accuracy.py").first_reaching
    assert first_reaching([(1, 50.0, 2.0), (2, 70.0, 4.0), (3, 80.0, 6.0)], 60.0) == (2, 4.0)
    assert first_reaching([(1, 50.0, 2.0)], 60.0) is None


@pytest.mark.slow
def test_gpu_check_tiny_runs_every_part_without_dvc_or_wandb():
    """`--tiny` on CPU, in a fresh interpreter as on the GPU machine: every part runs and the one
    JSON line has its figures; neither DVC nor wandb was imported (the check needs neither)."""
    probe = ("import json, runpy, sys; sys.argv = ['gpu_check.py', '--tiny']; "
             "runpy.run_path(sys.argv[0], run_name='__main__'); "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('dvc', 'wandb'))))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=BENCH, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line, imported = proc.stdout.strip().splitlines()[-2:]
    assert json.loads(imported) == []
    out = json.loads(line)
    assert out["throughput"]["lab_img_s"] > 0 and out["throughput"]["ratio"] > 0
    assert set(out["throughput"]["ours_img_s_by_batch"]) == {"64", "128"}
    assert 0 <= out["improve_cnn"]["test_acc"] <= 100 and out["improve_cnn"]["epochs"] == 1
    assert set(out["mlp_study"]["test_acc"]) == {"2-plain", "2-residual", "4-plain",
                                                 "4-residual"}


def test_a_stage_records_its_phases_and_the_breakdown_adds_up(tmp_path, monkeypatch):
    """`reslab.core.timing` keeps per-phase seconds and writes one record; bench/stage_time.py
    splits a process into start-up, the phases and `other`, which sum to its whole time."""
    from reslab.core import timing

    stage_time = load_script(BENCH / "stage_time.py")
    monkeypatch.setattr(timing, "_seconds", {})
    monkeypatch.setattr(timing, "_main_start", [100.0])
    monkeypatch.setattr(sys, "argv", ["stages/finetune.py", "ft1", "--seed", "0"])
    with timing.phase("train"):
        pass
    assert set(timing._seconds) == {"train"} and timing._seconds["train"] >= 0
    timing._seconds["train"] = 3.0  # a known figure for the arithmetic below
    timing._write(str(tmp_path / "t.jsonl"))
    record = json.loads((tmp_path / "t.jsonl").read_text())
    assert record["argv"] == ["finetune.py", "ft1", "--seed", "0"] and record["main_start"] == 100.0
    record |= {"process_start": 98.0, "end": 110.0, "phases": {"train": 3.0, "test": 1.5}}
    parts = stage_time.breakdown(record)
    assert parts == {"start-up": 2.0, "train": 3.0, "test": 1.5, "other": 5.5, "total": 12.0}
    assert stage_time.family(record["argv"]) == "finetune_ft1"
    text = stage_time.table([record, record], wall=30.0)
    assert "| finetune_ft1 | 2 | 4.0 | 0.0 | 6.0 |" in text
    assert "wall 30.0 s = stage processes 24.0 s + DVC and the time between stages 6.0 s" in text
