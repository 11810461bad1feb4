"""Weights & Biases tracking of every training run.

wandb's mode is the user's, never hard-coded (`wandb_mode`); its runs go to the user's project
even from a temporary experiment's copy (`wandb_dir`); only the stage's params are sent as the
run config (no environment values).
"""

from __future__ import annotations

import configparser
import json
import os
import uuid
from pathlib import Path

from reslab.core.files import write_json
from reslab.core.timing import phase


def project_root() -> Path:
    """The user's project: DVC_ROOT, which DVC sets for every stage it runs (for a queued or
    temporary experiment, the original repository, not the executor's copy that DVC deletes when
    the experiment ends), else the working directory."""
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def wandb_dir() -> Path:
    """Where wandb writes its `wandb/` folder: WANDB_DIR (a relative one from the project root),
    else the project root."""
    return project_root() / os.environ.get("WANDB_DIR", "")


def _mode_in(settings: Path) -> str | None:
    parser = configparser.ConfigParser()
    try:
        parser.read(settings)
        return parser.get("default", "mode", fallback=None)
    except (OSError, configparser.Error):
        return None


def wandb_mode(directory: Path) -> str:
    """`WANDB_MODE`; else the mode `wandb offline` (or `wandb disabled`) wrote to the project's
    settings (`<directory>/wandb/settings`, then the global `$WANDB_CONFIG_DIR/settings`); else
    online if `wandb online` cleared it (the project's settings file is left without a mode);
    else offline, so that a laptop without a wandb account logs locally. Passed to `wandb.init`
    explicitly: in an experiment's copy wandb would not find the project's settings itself."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    local = directory / "wandb" / "settings"
    config_dir = Path(os.environ.get("WANDB_CONFIG_DIR") or "~/.config/wandb").expanduser()
    for settings in (local, config_dir / "settings"):
        if mode := _mode_in(settings):
            return mode
    return "online" if local.is_file() else "offline"


class Tracker:
    """A thin wandb run: a no-op when disabled by param or by WANDB_MODE=disabled.

    With `id_file`, an interrupted run is continued rather than restarted: the run id is kept
    there with the run's `fingerprint` until `finish`, and a re-run with the same fingerprint
    resumes that wandb run (as the training state resumes from `.resume/`). Inside a DVC
    experiment (`DVC_EXP_NAME`) the run's group and tag are the experiment's name, so the runs of
    one experiment sit together and experiments are told apart; else the group is the stage.
    """

    def __init__(self, enabled: bool, project: str, name: str, group: str, config: dict, *,
                 id_file: str | Path | None = None, fingerprint: str = ""):
        self.run, self.id_file = None, Path(id_file) if id_file else None
        directory = wandb_dir()
        mode = wandb_mode(directory) if enabled else "disabled"
        if mode == "disabled":
            return
        with phase("wandb"):
            self._init(project, name, group, config, mode, directory, fingerprint)

    def _init(self, project: str, name: str, group: str, config: dict, mode: str,
              directory: Path, fingerprint: str) -> None:
        import wandb

        experiment = os.environ.get("DVC_EXP_NAME")
        run_id = self._run_id(fingerprint) if self.id_file else None
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, name=name, group=experiment or group,
                              job_type=group, tags=[experiment[:64]] if experiment else None,
                              config=config, mode=mode, dir=directory, reinit="finish_previous",
                              id=run_id, resume="allow" if run_id else None)

    def _run_id(self, fingerprint: str) -> str:
        """The interrupted run's id when its fingerprint matches, else a new one, saved."""
        try:
            saved = json.loads(self.id_file.read_text())
        except (OSError, ValueError):
            saved = {}
        if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint and saved.get("id"):
            return str(saved["id"])
        run_id = uuid.uuid4().hex[:12]
        write_json(self.id_file, {"fingerprint": fingerprint, "id": run_id})
        return run_id

    def log(self, row: dict) -> None:
        if self.run is not None:
            with phase("wandb"):
                self.run.log(row)

    def finish(self, summary: dict | None = None) -> None:
        if self.run is not None:
            with phase("wandb"):
                self.run.summary.update(summary or {})
                self.run.finish()
        if self.id_file is not None:
            self.id_file.unlink(missing_ok=True)
