"""Stage svm_baseline: StandardScaler + LinearSVC on the backbone's features (the solver said
explicitly: `reslab.transfer.linear_svm`).

Each C in `transfer.svm_C` is fitted on train and scored on val; the best on val is scored on
test (the test set never chooses anything). Writes metrics/svm_baseline.json.
"""

import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params
from reslab.core.files import write_metrics
from reslab.core.sections import SVMConfig
from reslab.transfer import linear_svm, load_features


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly."""
    return {"transfer": SVMConfig}


def main(argv: list[str]) -> None:
    (cfg,) = load_params(params(argv))
    f = load_features(outputs.features(cfg.dataset))
    start = time.perf_counter()
    best = None
    for c in cfg.svm_C:
        svm = linear_svm(c, cfg.svm_max_iter, *f["train_x"].shape)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm.fit(f["train_x"], f["train_y"])
        val_acc = 100.0 * svm.score(f["val_x"], f["val_y"])
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        print(f"svm C={c}: val acc {val_acc:.2f}%{'' if converged else ' (not converged)'}")
        if best is None or val_acc > best[1]:
            best = (c, val_acc, svm, converged)
    c, val_acc, svm, converged = best
    metrics = {"test_acc": round(100.0 * svm.score(f["test_x"], f["test_y"]), 4),
               "val_acc": round(val_acc, 4), "C": c, "converged": int(converged),
               "fit_seconds": round(time.perf_counter() - start, 2)}
    write_metrics(outputs.SVM, metrics)
    print(f"svm_baseline: C={c}, test acc {metrics['test_acc']:.2f}%")


if __name__ == "__main__":
    sys.exit(run_stage(main))
