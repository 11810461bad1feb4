"""The transfer ladder, said once: each rung's stage, the blocks it trains, the rung it starts
from and its name in the report.

One ladder per optimizer of `transfer.optimizers`: linear probe (head only) -> FT0 (+ the last
residual block) -> FT1 (+ the block before) -> FT2 (+ one more). Two rungs train with one
optimizer, set in their own section `transfer.<name>.train`, which also names the ladder they
start from: FT2+aug (FT2 with strong augmentation, from FT1) and the full fine-tune (every layer,
the improved recipe, from the linear probe). Every rung's stage trains a run per seed of
`transfer.seeds`, each starting from the rung before of the same optimizer and seed.

dvc.yaml defines a stage per rung (FT0-FT2 share one definition, each rung its own `vars`);
tests/test_ladder.py checks their commands, starting checkpoints and outputs against this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reslab.core.outputs import VariantOutputs


def backbone(seed: int) -> Path:
    """Where the probe starts: improve_cnn's model of `seed` (dvc.yaml passes the first of
    `improve_cnn.seeds` as `--backbone-seed`)."""
    return VariantOutputs.for_variant("improve_cnn", str(seed)).model


@dataclass(frozen=True)
class Rung:
    stage: str  # the DVC stage, and the folder of its outputs
    name: str  # `stages/finetune.py <name>`; for a rung of one optimizer, its params section
    label: str  # in the report's tables and figures
    trainable_blocks: int | None  # residual blocks trained besides the head; None: every layer
    starts_from: str | None  # the stage of the rung it starts from; None: the backbone
    per_optimizer: bool  # a stage per optimizer (`<stage>@<optimizer>`), else one stage

    def variant(self, optimizer: str, seed: int) -> str:
        """`<optimizer>/<seed>` (the stage's folder per optimizer), or `<seed>`."""
        return f"{optimizer}/{seed}" if self.per_optimizer else str(seed)

    def outputs(self, optimizer: str, seed: int) -> VariantOutputs:
        return VariantOutputs.for_variant(self.stage, self.variant(optimizer, seed))

    def start(self, optimizer: str, seed: int, backbone_seed: int | None = None) -> Path:
        """The checkpoint this rung's variant starts from (`optimizer`: its ladder; the probe:
        the backbone of `backbone_seed`)."""
        if self.starts_from is None:
            if backbone_seed is None:
                raise ValueError(f"{self.stage} starts from the backbone: give its seed")
            return backbone(backbone_seed)
        return RUNGS[self.starts_from].outputs(optimizer, seed).model


RUNGS = {rung.stage: rung for rung in (
    Rung("linear_probe", "probe", "LP", 0, None, True),
    Rung("finetune_ft0", "ft0", "FT0", 1, "linear_probe", True),
    Rung("finetune_ft1", "ft1", "FT1", 2, "finetune_ft0", True),
    Rung("finetune_ft2", "ft2", "FT2", 3, "finetune_ft1", True),
    Rung("finetune_ft2_aug", "ft2_aug", "FT2 + augmentation", 3, "finetune_ft1", False),
    Rung("finetune_full", "full", "full fine-tune (beyond the lab: every layer, improved recipe)",
         None, "linear_probe", False),
)}
LADDER = [rung for rung in RUNGS.values() if rung.per_optimizer]  # in order, LP first
SINGLE = [rung for rung in RUNGS.values() if not rung.per_optimizer]
FINETUNE = {rung.name: rung for rung in RUNGS.values() if rung.starts_from}  # stages/finetune.py
