"""The throughput benchmark counts only the images each pipeline really trained on."""

import importlib.util
import sys
from pathlib import Path

import torch
from torchvision import datasets, transforms

from reslab.data.loader import Prepared, Split
from reslab.models.mlp import MLP

BENCH = Path(__file__).parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # the scripts import their shared lab-style module
spec = importlib.util.spec_from_file_location("throughput", BENCH / "throughput.py")
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)
import labstyle  # noqa: E402


def counting_mlp(seen: list[int]) -> MLP:
    """A tiny MNIST-shaped MLP that records the batch size of every training forward."""
    net = MLP(2, 8, in_shape=(4, 4, 1))
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
