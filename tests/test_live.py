"""A training stage's live progress (`reslab.core.live`), as the engine writes it."""

import json

import pytest
from test_engine import Crash, CrashAfter, cfg, make_loaders, tiny_model

from reslab.train.engine import fit


def test_live_progress_after_every_epoch_and_on_resume(tmp_path):
    """What `dvc exp show` and `dvc plots` read while a stage runs: after a crash in epoch 3 the
    file shows epoch 2 with its history; on resuming it is this run's again before the next
    epoch ends, and at the end it is the whole run, the best epoch as the result names it."""
    c = cfg(epochs=5, scheduler="plateau", plateau_patience=0)
    ref = fit(tiny_model(), *make_loaders(), c)
    state, live = tmp_path / "state.pt", tmp_path / "live" / "metrics.json"

    def shown():
        return json.loads(live.read_text())

    with pytest.raises(Crash):
        fit(tiny_model(), *make_loaders(), c, state_path=state, fingerprint="run",
            live_path=live, tracker=CrashAfter(2), desc="train_x@1")
    first = shown()
    assert first["live"]["stage"] == "train_x@1" and first["live"]["epoch"] == 2
    assert first["live"]["epochs"] == 5 and first["history"] == ref.history[:2]
    assert first["live"]["val_acc"] == round(ref.history[1]["val_acc"], 4)
    live.write_text("{}")  # another stage ran in between

    class Check:
        def log(self, row):  # the first new epoch: the resumed run's progress is already there
            assert shown()["history"] == ref.history[:2]
            self.log = lambda row: None

    resumed = fit(tiny_model(), *make_loaders(), c, state_path=state, fingerprint="run",
                  live_path=live, tracker=Check(), desc="train_x@1")
    last = shown()
    assert last["history"] == ref.history == resumed.history
    assert last["live"]["epoch"] == 5 and last["live"]["selected_epoch"] == ref.selected_epoch
    assert last["live"]["min_val_loss"] == round(ref.min_val_loss, 6)
    assert last["live"]["val_acc_at_min_loss"] == round(ref.val_acc_at_min_loss, 4)
