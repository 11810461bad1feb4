"""The training engine: optimizers, schedulers, early stopping, resume."""

import pytest
import torch
from torch import nn

from project import recipe
from reslab.batches.loader import BatchLoader, Split
from reslab.train import engine
from reslab.train.engine import EarlyStopping, fit, make_optimizer, make_scheduler


def blobs(n=96, seed=0):
    """Two separable Gaussian blobs stored like a prepared split (uint8 NHWC, 1x2x1 images)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = (torch.randn(n, 1, 2, 1, generator=g) * 20 + 128 + (y[:, None, None, None] * 2 - 1) * 50)
    return Split(x.clamp(0, 255).to(torch.uint8), y)


def make_loaders(batch_size=16, seed=0):
    mean, std = torch.tensor([0.5]), torch.tensor([0.25])
    train = BatchLoader(blobs(), batch_size, mean, std, shuffle=True, seed=seed)
    val = BatchLoader(blobs(48, seed=1), 64, mean, std)
    return train, val


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


def cfg(**kw):
    return recipe(**{"optimizer": "adam", "lr": 1e-2, "epochs": 4, "batch_size": 16,
                     "scheduler": "none", **kw})


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "sgd_momentum"])
def test_each_optimizer_learns(name):
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
             "sgd_momentum": torch.optim.SGD}
    c = cfg(optimizer=name, lr=0.05 if name.startswith("sgd") else 1e-2, weight_decay=1e-4)
    opt = make_optimizer(tiny_model().parameters(), c)
    assert type(opt) is kinds[name]
    assert opt.param_groups[0]["weight_decay"] == 1e-4
    assert opt.param_groups[0].get("momentum", 0) == (0.9 if name == "sgd_momentum" else 0)
    train, val = make_loaders()
    result = fit(tiny_model(), train, val, c)
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.val_acc_at_min_loss > 90


def test_optimizer_skips_frozen_parameters():
    model = tiny_model()
    model[1].requires_grad_(False)
    opt = make_optimizer(model.parameters(), cfg())
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == 8 * 2 + 2


def test_plateau_scheduler_halves_lr_after_patience():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make_scheduler(opt, cfg(scheduler="plateau", plateau_factor=0.5, plateau_patience=2,
                                    min_lr=0.3))
    lrs = []
    for _ in range(8):
        sched.step(1.0)  # never improves
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:3] == [1.0, 1.0, 1.0] and lrs[3] == 0.5 and min(lrs) == 0.3


def test_cosine_scheduler_warms_up_then_decays_to_min_lr():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make_scheduler(opt, cfg(scheduler="cosine", lr=1.0, epochs=4, min_lr=0.01,
                                    warmup_epochs=1),
                           steps_per_epoch=10)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(40):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))
    assert lrs[-1] == pytest.approx(0.01)


def test_early_stopping_keeps_a_real_copy():
    model = tiny_model()
    stopper = EarlyStopping(patience=2, min_delta=0.0)
    stopper.update(1.0, 0, model)
    with torch.no_grad():
        model[1].weight.add_(1.0)  # training goes on in place
    assert not torch.equal(stopper.best_state["1.weight"], model[1].weight)


def scripted_validation(monkeypatch, losses):
    """fit's validation losses, in order; training runs for real."""
    scripted = iter(losses)
    real_run_epoch = engine.run_epoch

    def fake_run_epoch(model, loader, loss_fn, optimizer=None, **kw):
        if optimizer is not None:
            return real_run_epoch(model, loader, loss_fn, optimizer, **kw)
        return {"loss": next(scripted), "acc": 50.0}

    monkeypatch.setattr(engine, "run_epoch", fake_run_epoch)


def test_min_delta_counts_patience_but_the_lowest_loss_is_kept(monkeypatch):
    """1.0, 0.9995, 0.999 with min_delta 1e-3: neither later epoch is an improvement for
    patience (2 bad epochs: stop), but epoch 3 has the lowest loss, so its weights are kept."""
    scripted_validation(monkeypatch, [1.0, 0.9995, 0.999, 0.5])
    result = fit(tiny_model(), *make_loaders(),
                 cfg(epochs=4, early_stop_patience=2, early_stop_min_delta=1e-3))
    assert result.epochs_run == 3
    assert result.selected_epoch == 3 and result.min_val_loss == 0.999


def test_min_delta_patience_survives_a_resume():
    """The loss patience counts from is part of the saved state: resumed after 1.0, 0.9995,
    0.999 is still a second bad epoch, and the best weights are still epoch 3's."""
    model, stopper = tiny_model(), EarlyStopping(patience=5, min_delta=1e-3)
    for epoch, loss in enumerate([1.0, 0.9995]):
        stopper.update(loss, epoch, model)
    resumed = EarlyStopping(patience=5, min_delta=1e-3)
    resumed.load_state_dict(stopper.state_dict())
    resumed.update(0.999, 2, model)
    assert (resumed.bad_epochs, resumed.best_epoch) == (2, 2)


def test_fit_restores_best_weights_and_stops(monkeypatch):
    """Scripted validation losses: best at epoch 2, patience 2 -> stops after epoch 4, weights of
    epoch 2 restored (the lab kept the last epoch's)."""
    scripted = iter([0.9, 0.5, 0.7, 0.6, 0.4, 0.3])
    snapshots = []
    real_run_epoch = engine.run_epoch

    def fake_run_epoch(model, loader, loss_fn, optimizer=None, **kw):
        if optimizer is not None:
            out = real_run_epoch(model, loader, loss_fn, optimizer, **kw)
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
            return out
        return {"loss": next(scripted), "acc": 50.0}

    monkeypatch.setattr(engine, "run_epoch", fake_run_epoch)
    model = tiny_model()
    train, val = make_loaders()
    result = fit(model, train, val, cfg(epochs=6, early_stop_patience=2))
    assert result.epochs_run == 4 and result.selected_epoch == 2 and result.min_val_loss == 0.5
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[1][k])
    assert not torch.equal(snapshots[1]["1.weight"], snapshots[-1]["1.weight"])


def test_a_fine_tune_that_only_gets_worse_keeps_its_starting_weights(monkeypatch):
    """With score_start the starting weights are validated first (loss 0.5 here): no epoch
    beats them, so they are what the run keeps, selected epoch 0, with their accuracy."""
    scripted_validation(monkeypatch, [0.5, 0.9, 0.8])
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(model, *make_loaders(), cfg(epochs=2), score_start=True)
    assert result.selected_epoch == 0 and result.min_val_loss == 0.5
    assert result.start == {"loss": 0.5, "acc": 50.0} and result.epochs_run == 2
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_fine_tune_that_improves_keeps_its_best_epoch(monkeypatch):
    scripted_validation(monkeypatch, [0.9, 0.7, 0.8])
    result = fit(tiny_model(), *make_loaders(), cfg(epochs=2), score_start=True)
    assert result.selected_epoch == 1 and result.min_val_loss == 0.7


class Crash(Exception):
    pass


class CrashAfter:
    """A tracker that interrupts training once `n` epochs have been logged and checkpointed."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def log(self, row):
        self.seen += 1
        if self.seen > self.n:
            raise Crash


def test_resume_gives_identical_result(tmp_path):
    c = cfg(epochs=5, scheduler="plateau", plateau_patience=0, early_stop_patience=3)
    def weight_norm(model):  # an `epoch_end` value, as the gradient-flow rows are
        return float(sum(p.detach().norm() for p in model.parameters()))

    ref_model = tiny_model()
    ref = fit(ref_model, *make_loaders(), c, epoch_end=weight_norm)

    state = tmp_path / "state.pt"
    with pytest.raises(Crash):
        fit(tiny_model(), *make_loaders(), c, state_path=state, fingerprint="run",
            tracker=CrashAfter(2), epoch_end=weight_norm)
    assert state.exists()
    model = tiny_model(seed=123)  # a fresh process would rebuild the model from scratch
    resumed = fit(model, *make_loaders(), c, state_path=state, fingerprint="run",
                  epoch_end=weight_norm)
    assert resumed.history == ref.history  # every value of every epoch, lr included
    assert resumed.extras == ref.extras and len(ref.extras) == len(ref.history)
    assert resumed.selected_epoch == ref.selected_epoch
    for k, v in ref_model.state_dict().items():
        assert torch.equal(v, model.state_dict()[k])


def test_unreadable_state_starts_afresh(tmp_path, capsys):
    """A training state cut short (a full disk, say) is reported in one line and ignored."""
    c = cfg(epochs=3)
    state = tmp_path / "state.pt"
    state.write_bytes(b"not a checkpoint")
    fresh = fit(tiny_model(), *make_loaders(), c)
    result = fit(tiny_model(), *make_loaders(), c, state_path=state, fingerprint="run")
    assert result.history == fresh.history
    assert "starting afresh, the saved training state is unusable" in capsys.readouterr().out


def test_resume_ignores_state_of_another_run(tmp_path):
    """State saved under another fingerprint (another seed here) is not continued: the result
    is exactly a fresh run's, not a continuation of the other run's weights and history."""
    c = cfg(epochs=4)
    state = tmp_path / "state.pt"
    with pytest.raises(Crash):
        fit(tiny_model(seed=7), *make_loaders(seed=7), c, state_path=state, fingerprint="a",
            tracker=CrashAfter(2))
    fresh = fit(tiny_model(), *make_loaders(), c)
    model = tiny_model()
    result = fit(model, *make_loaders(), c, state_path=state, fingerprint="b")
    assert result.history == fresh.history


def test_evaluation_is_fp32_even_for_a_bf16_recipe():
    """Validation (which drives early stopping) and test numbers come from the fp32 model, the
    same as a plain fp32 reference loop over the same data; only training steps use bf16."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
    train, val = make_loaders()
    result = fit(model, train, val, cfg(epochs=2), bf16=True)
    model.eval()
    with torch.no_grad():
        x = torch.cat([xb for xb, _ in val])
        y = torch.cat([yb for _, yb in val])
        logits = model(x)
    reference = {"loss": nn.functional.cross_entropy(logits, y).item(),
                 "acc": 100.0 * (logits.argmax(1) == y).float().mean().item()}
    got = engine.evaluate(model, val)
    assert got["acc"] == pytest.approx(reference["acc"], abs=1e-9)
    assert got["loss"] == pytest.approx(reference["loss"], rel=1e-6)
    assert result.history[-1]["val_loss"] == pytest.approx(reference["loss"], rel=1e-6)


def test_a_run_of_hours_says_so_after_its_first_steps(monkeypatch, capsys):
    train, val = make_loaders(batch_size=2)  # 48 steps an epoch
    monkeypatch.setattr(engine, "SLOW_RUN_HOURS", 1e-9)
    fit(tiny_model(), train, val, cfg(epochs=2), desc="train_x@1")
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "Quick profile" in ln]
    assert len(lines) == 1 and lines[0].startswith("train_x@1: about ")
    assert "reslab-profile quick" in lines[0]
    monkeypatch.setattr(engine, "SLOW_RUN_HOURS", 1.0)
    fit(tiny_model(), train, val, cfg(epochs=2), desc="train_x@1")
    assert "Quick profile" not in capsys.readouterr().out


def test_same_seed_same_result_other_seed_differs():
    a = fit(tiny_model(), *make_loaders(seed=0), cfg())
    b = fit(tiny_model(), *make_loaders(seed=0), cfg())
    c = fit(tiny_model(), *make_loaders(seed=1), cfg())
    assert a.history == b.history
    assert a.history != c.history


def test_bad_device():
    from reslab.core.errors import ConfigError
    from reslab.train.distributed import device_for

    with pytest.raises(ConfigError, match="runtime.device: 'gpu0' is not a device"):
        device_for("gpu0")


def test_diverged_run_is_a_clear_error():
    from reslab.core.errors import ReslabError

    with pytest.raises(ReslabError, match="validation loss was never finite"):
        fit(tiny_model(), *make_loaders(), cfg(optimizer="sgd", lr=1e30, epochs=2))
