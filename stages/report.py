"""Stage report: reports/results.md with its figures, the transfer curves for `dvc plots`, and
metrics/summary.json, the study's headline numbers under one `summary` key: one of dvc.yaml's
top-level metrics, so that `dvc exp show` is one readable row per experiment."""

import sys

from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params
from reslab.core.files import write_metrics, write_text
from reslab.core.sections import CNNStudyConfig, ImproveConfig, MLPStudyConfig, TransferConfig
from reslab.report.results import HEADER, claims_section
from reslab.report.sections import improved_part, study_part, transfer_part
from reslab.report.summary import comparisons, headline


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly (every section
    whose results it reports, whole: what ran, at what scale, with which recipe)."""
    return {"train_mlp": MLPStudyConfig, "train_cnn": CNNStudyConfig,
            "improve_cnn": ImproveConfig, "transfer": TransferConfig}


def main(argv: list[str]) -> None:
    mlp, cnn, imp, tr = load_params(params(argv))
    studies = {"train_mlp": mlp, "train_cnn": cnn}
    sections, stats = [HEADER], {}
    for name, cfg in studies.items():
        text, stats[name] = study_part(name, cfg)
        sections.append(text)
    text, improved, gap, why_backbone, backbone = improved_part(imp, studies["train_cnn"],
                                                                stats["train_cnn"])
    sections.append(text)
    text, svm, ladders, single = transfer_part(tr, why_backbone, backbone)
    sections.append(text)
    claims = comparisons(gap, ladders, single)
    sections.insert(1, claims_section(stats, claims))
    write_metrics(outputs.SUMMARY,
                  {"summary": headline(stats, improved, svm, ladders, single, claims)})
    write_text(outputs.REPORT / "results.md", "\n".join(sections))
    print(f"report: {outputs.REPORT / 'results.md'}, {outputs.SUMMARY}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
