"""Where a training stage's files go, said once: `<kind>/<stage>/<variant>.<ext>` for a variant
of a matrix stage, `<kind>/<stage>.<ext>` for a stage of one run. The training engine writes
them, the report reads them, and tests/test_ladder.py checks dvc.yaml's `outs` against them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESUME_DIR = Path(".resume")  # a run's training state between epochs, deleted when it ends


@dataclass(frozen=True)
class VariantOutputs:
    model: Path
    metrics: Path
    history: Path  # per-epoch table, drawn by `dvc plots`
    gradflow: Path  # per-layer gradient norms at initialisation and after every epoch
    resume: Path

    @classmethod
    def for_variant(cls, stage: str, variant: str | None = None) -> VariantOutputs:
        def path(*parts: str, ext: str) -> Path:
            name = f"{stage}/{variant}" if variant else stage
            return Path(*parts, f"{name}.{ext}")

        return cls(path("models", ext="pt"), path("metrics", ext="json"),
                   path("plots", ext="csv"), path("plots", "gradflow", ext="csv"),
                   path(str(RESUME_DIR), ext="pt"))


PREPARED = Path("data/prepared")


def prepared(dataset: str, ext: str = "npz") -> Path:
    """A dataset as `prepare_data` wrote it: the tensors (npz) and their manifest (json)."""
    return PREPARED / f"{dataset}.{ext}"


def features(dataset: str) -> Path:
    """The backbone's features of `dataset`, from `extract_features`."""
    return Path("data/features", f"{dataset}.npz")


def analysis(study: str) -> Path:
    """A depth study's statistics over seeds, from `analyze_<study>`."""
    return Path("metrics/analyze", f"{study}.json")


def curves(study: str) -> Path:
    """Every variant's per-epoch history of a depth study in one table, for `dvc plots`."""
    return Path("plots/curves", f"{study}.csv")


def figures(study: str) -> Path:
    """The folder of a depth study's figures (accuracy against depth, gradient flow)."""
    return Path("plots/figures", study)


SVM = Path("metrics/svm_baseline.json")
TRANSFER_CURVES = Path("plots/curves/transfer")  # a table per ladder rung, for `dvc plots`
SUMMARY = Path("metrics/summary.json")  # the headline numbers: a top-level metric of dvc.yaml
REPORT = Path("reports")  # results.md and its figures
