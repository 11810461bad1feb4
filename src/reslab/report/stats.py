"""Spread over seeds: the statistics a reader needs to tell a real gap from noise."""

from __future__ import annotations

import math
import statistics

from scipy import stats


def describe(values: list[float]) -> dict[str, float]:
    """n, mean, min, max and the sample standard deviation (absent for a single value)."""
    out = {"n": len(values), "mean": statistics.fmean(values), "min": min(values),
           "max": max(values)}
    if len(values) > 1:
        out["std"] = statistics.stdev(values)
    return out


def paired_difference(a: dict[int, float], b: dict[int, float],
                      confidence: float = 0.95) -> dict[str, float]:
    """`b - a` paired by seed (seeds present in both): n, mean and, with two pairs or more, the
    sample std and the Student-t confidence interval of the mean (absent, not zero, with one)."""
    seeds = sorted(set(a) & set(b))
    diffs = [b[s] - a[s] for s in seeds]
    out = {"n": len(diffs), "mean": statistics.fmean(diffs)}
    if len(diffs) > 1:
        sd = statistics.stdev(diffs)
        half = stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1) * sd / math.sqrt(len(diffs))
        out |= {"std": sd, "ci95_low": out["mean"] - half, "ci95_high": out["mean"] + half}
    return out


def mean_interval(values: list[float], confidence: float = 0.95) -> dict[str, float]:
    """The Student-t confidence interval of the mean over seeds (empty with one value)."""
    if len(values) < 2:
        return {}
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * sd / math.sqrt(len(values))
    return {"ci95_low": mean - half, "ci95_high": mean + half}
