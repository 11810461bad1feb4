"""How long the svm_baseline stage's fit takes at the lab's shape: 45,000 x 256 features,
100 classes (one-vs-rest), C=1, max_iter 5000, on synthetic features of that shape (class
means drawn at random, Gaussian noise `--noise` times their scale), with the solver
`reslab.transfer.linear_svm` chooses. The timing is the point: these classes still separate on
the training set, real features overlap more.

    python bench/svm_time.py                 # the primal solver svm_baseline uses
    python bench/svm_time.py --dual          # the dual, for comparison (capped by --max-iter)
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from reslab.transfer import linear_svm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=45_000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--noise", type=float, default=3.0)
    parser.add_argument("--dual", action="store_true", help="force the dual problem")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = np.arange(args.samples) % args.classes
    means = rng.normal(size=(args.classes, args.features)).astype(np.float32)
    noise = args.noise * rng.normal(size=(args.samples, args.features)).astype(np.float32)
    x = means[y] + noise
    svm = linear_svm(1.0, args.max_iter, args.samples, args.features)
    if args.dual:
        svm[-1].set_params(dual=True)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm.fit(x, y)
    seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    print(f"{args.samples} x {args.features}, {args.classes} classes, "
          f"{'dual' if svm[-1].dual else 'primal'}: fit {seconds:.1f} s"
          f"{'' if converged else ' (not converged)'}, train acc {100 * svm.score(x, y):.2f}%")


if __name__ == "__main__":
    main()
