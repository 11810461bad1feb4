import numpy as np
import pytest
import torch

from project import augment
from reslab.batches.augment import build_augment, color_jitter, random_crop, random_flip
from reslab.batches.loader import (
    BatchLoader,
    Split,
    balanced_indices,
    load_prepared,
    subset_indices,
)
from reslab.core.errors import DataError
from reslab.datasets.imagefolder import read_imagefolder_zip
from reslab.datasets.prepare import prepare
from reslab.datasets.standin import make_imagefolder_zip


def images(n=6, c=3, h=8, w=8):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0))


def test_crop_without_padding_is_identity_and_with_padding_shifts():
    x = images()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(random_crop(x, 0, g), x)
    out = random_crop(x, 2, g)
    assert out.shape == x.shape
    # each output is a shifted window of the zero-padded input
    padded = torch.nn.functional.pad(x, (2,) * 4)
    for i in range(len(x)):
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 8])
                   for dy in range(5) for dx in range(5))


def test_flip_is_per_sample():
    x = images(64)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54


def test_color_jitter_stays_in_range_and_varies_per_image():
    x = images(16)
    out = color_jitter(x, torch.Generator().manual_seed(0), 0.2, 0.2, 0.2, 0.1)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    ratios = (out.mean((1, 2, 3)) / x.mean((1, 2, 3)))
    assert ratios.std() > 0.01


def test_zero_hue_rotation_is_identity():
    x = images(4)
    out = color_jitter(x, torch.Generator().manual_seed(0), 0, 0, 0, 1e-9)
    assert torch.allclose(out, x, atol=1e-5)


def split(n=10):
    return Split(torch.arange(n, dtype=torch.uint8).repeat_interleave(4).reshape(n, 2, 2, 1),
                 torch.arange(n))


def test_loader_normalises_and_keeps_uint8_storage():
    loader = BatchLoader(split(), 4, torch.tensor([0.5]), torch.tensor([0.25]))
    assert loader.split.x.dtype == torch.uint8
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2] and len(loader) == 3
    x0 = batches[0][0]
    assert x0.shape == (4, 1, 2, 2) and x0.dtype == torch.float32
    assert x0[1, 0, 0, 0].item() == pytest.approx((1 / 255 - 0.5) / 0.25)


def test_loader_shuffle_is_seeded():
    def order(seed):
        loader = BatchLoader(split(), 3, torch.tensor([0.0]), torch.tensor([1.0]), shuffle=True,
                             seed=seed)
        return torch.cat([y for _, y in loader]).tolist()

    assert order(0) == order(0) and order(0) != order(1)
    assert sorted(order(0)) == list(range(10))


def test_augmentation_only_when_asked():
    calls = []

    def spy(x, g):
        calls.append(len(x))
        return x

    train = BatchLoader(split(), 5, torch.tensor([0.0]), torch.tensor([1.0]), shuffle=True,
                        seed=0, augment=spy)
    list(train)
    assert calls == [5, 5]
    assert build_augment(augment()) is None
    assert build_augment(augment(crop_padding=4, flip=True)) is not None


def test_load_prepared_with_subset(tmp_path):
    z = make_imagefolder_zip(tmp_path / "t.zip", classes=3, n_train=10, mode="RGB")
    prepare("t", read_imagefolder_zip(z), 6, 3, tmp_path)  # data seed 3
    data = load_prepared(tmp_path / "t.npz")
    assert len(data.train) == 24 and len(data.val) == 6 and len(data.test) == 12
    assert data.num_classes == 3 and data.image_shape == (8, 8, 3)
    assert data.train.x.dtype == torch.uint8
    sub = load_prepared(tmp_path / "t.npz", train_subset=10)
    assert len(sub.train) == 10 and len(sub.val) == 6
    # drawn with the data seed kept in the file: every stage, whatever its run seed, and a
    # larger subset holds a smaller one
    larger = load_prepared(tmp_path / "t.npz", 15)
    assert sub.seed == 3
    assert torch.equal(sub.train.x, data.train.x[subset_indices(24, 10, 3)])
    assert not torch.equal(sub.train.x, data.train.x[subset_indices(24, 10, 0)])
    rows = {x.numpy().tobytes() for x in larger.train.x}
    assert all(x.numpy().tobytes() in rows for x in sub.train.x)
    # the subset is drawn from the training split only: never a validation image
    with np.load(tmp_path / "t.npz") as f:
        val_images = {f["x_train"][i].tobytes() for i in f["val_idx"]}
    assert not any(x.numpy().tobytes() in val_images for x in sub.train.x)


def test_load_prepared_missing(tmp_path):
    with pytest.raises(DataError, match=r"mnist.npz: prepared dataset not found .*@mnist"):
        load_prepared(tmp_path / "mnist.npz")


def test_gradient_flow_sample_is_class_balanced_and_mixed():
    """Sorted, class-by-class labels (as the mirror stores them): the sample holds every class
    equally and each batch cut from it mixes classes (the first batches of sorted labels would
    be all 0s)."""
    y = torch.arange(10).repeat_interleave(50)
    idx = balanced_indices(y, 40, seed=0)
    assert len(idx) == 40 and len(set(idx.tolist())) == 40
    assert torch.bincount(y[idx], minlength=10).tolist() == [4] * 10
    for batch in idx.split(8):
        assert len(set(y[batch].tolist())) >= 4
    assert torch.equal(idx, balanced_indices(y, 40, seed=0))
    assert not torch.equal(idx, balanced_indices(y, 40, seed=1))
    uneven = balanced_indices(y, 43, seed=0)
    counts = torch.bincount(y[uneven], minlength=10)
    assert counts.max() - counts.min() == 1 and counts.sum() == 43


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_take_disjoint_shares_of_one_permutation(world):
    """DDP: every rank draws the same seeded permutation and takes its share of each global
    batch; together the ranks see each sample once an epoch, as the single process does."""
    data = Split(torch.zeros(23, 1, 1, 1, dtype=torch.uint8), torch.arange(23))
    mean, std = torch.tensor([0.0]), torch.tensor([1.0])
    single = [y for _, y in BatchLoader(data, 6, mean, std, shuffle=True, seed=4)]
    ranks = [[y for _, y in BatchLoader(data, 6, mean, std, shuffle=True, seed=4, rank=r,
                                        world=world)] for r in range(world)]
    assert all(len(r) == len(ranks[0]) for r in ranks)  # same number of steps on every rank
    for step, whole in enumerate(single):
        shares = [ranks[r][step] for r in range(world)]
        assert torch.equal(torch.cat(shares), whole)
    # evaluation: contiguous shards, every sample exactly once
    evals = [torch.cat([y for _, y in BatchLoader(data, 5, mean, std, rank=r, world=world)])
             for r in range(world)]
    assert torch.equal(torch.cat(evals), data.y)


def test_augmentation_draws_differ_per_rank_and_resume_from_state():
    data = Split(torch.zeros(8, 4, 4, 1, dtype=torch.uint8), torch.arange(8))
    mean, std = torch.tensor([0.0]), torch.tensor([1.0])

    def noise(x, g):
        return x + torch.rand(x.shape[0], 1, 1, 1, generator=g, device=g.device)

    loaders = [BatchLoader(data, 8, mean, std, shuffle=True, seed=1, augment=noise, rank=r,
                           world=2) for r in range(2)]
    first = [next(iter(ld))[0][:, 0, 0, 0] for ld in loaders]
    assert not torch.allclose(first[0], first[1])
    state = loaders[0].state_dict()
    after = next(iter(loaders[0]))
    loaders[0].load_state_dict(state)
    again = next(iter(loaders[0]))
    assert torch.equal(after[0], again[0]) and torch.equal(after[1], again[1])


def test_features_are_standardised_by_the_loader():
    feats = Split(torch.tensor([[1.0, 10.0], [3.0, 30.0]]), torch.tensor([0, 1]))
    loader = BatchLoader(feats, 2, torch.tensor([2.0, 20.0]), torch.tensor([1.0, 10.0]))
    x, _ = next(iter(loader))
    assert torch.equal(x, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
