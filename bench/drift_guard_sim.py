"""Measure the drift guard and the threshold simulator on synthetic data with known truth.

    .venv/bin/python bench/drift_guard_sim.py [--seeds 1000] [--window 200] [--target 0.95]

Prints, for the guard as configured in review.evaluation.stats (Wilson 99% interval over the
latest `window` audited items, checked after every audited item):
- detection delay after the agent's accuracy drops from 97% to 85% (median, 95th percentile, max),
- false alarm rate of a stable 97% agent over a long run of audited items,
and the coverage of the simulator's 95% intervals on routed data (5% audit samples above 0.90).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review.evaluation import simulation as sim
from review.evaluation import stats


def drift_figures(seeds: int, window: int, target: float, long_run: int, change_at: int = 1000) -> dict:
    table = stats.drift_trigger_table(target, window)
    delays, early, missed = [], 0, 0
    for seed in range(seeds):
        fired = sim.first_trigger(
            random.Random(seed),
            accuracy_before=0.97,
            accuracy_after=0.85,
            change_at=change_at,
            length=change_at + 2000,
            window=window,
            table=table,
        )
        if fired is None:
            missed += 1
        elif fired <= change_at:
            early += 1
        else:
            delays.append(fired - change_at)
    alarms = sum(
        sim.first_trigger(
            random.Random(1_000_000 + seed),
            accuracy_before=0.97,
            accuracy_after=0.97,
            change_at=0,
            length=long_run,
            window=window,
            table=table,
        )
        is not None
        for seed in range(seeds)
    )
    return {
        "median": sim.percentile(delays, 50),
        "p95": sim.percentile(delays, 95),
        "max": max(delays),
        "missed": missed,
        "early": early,
        "false_alarm_rate": alarms / seeds,
    }


def simulator_coverage(seeds: int, n: int = 10_000, thresholds=(0.70, 0.80, 0.90, 0.95)) -> dict:
    truth = {t: sim.true_error_rate(t) for t in thresholds}
    covered = dict.fromkeys(thresholds, 0)
    covered_flat = dict.fromkeys(thresholds, 0)
    for seed in range(seeds):
        sample = sim.routed_sample(random.Random(seed), n, threshold=0.90, audit_rate=0.05)
        weighted = stats.bin_records(sample.labelled)
        flat = stats.bin_records(stats.Record(r.confidence, r.correct) for r in sample.labelled)
        for t in thresholds:
            k = round(t * 100)
            for bins, tally in ((weighted, covered), (flat, covered_flat)):
                e = stats.weighted_error_rate(
                    sum((s for b, s in bins.items() if b >= k), stats.WeightedSums())
                )
                tally[t] += e.lower <= truth[t] <= e.upper
    return {t: (truth[t], covered[t] / seeds, covered_flat[t] / seeds) for t in thresholds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--window", type=int, default=stats.DRIFT_WINDOW)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--long-run", type=int, default=10_000, help="audited items per stable run")
    parser.add_argument("--coverage-seeds", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    f = drift_figures(args.seeds, args.window, args.target, args.long_run)
    print(
        f"drift guard: window {args.window} audited items, Wilson 99% interval, target {args.target:.0%}, "
        f"min {stats.DRIFT_MIN_ITEMS} items, checked after every audited item, {args.seeds} seeds"
    )
    print(
        f"  97% -> 85% at item 1000: detection delay median {f['median']}, 95th percentile {f['p95']}, "
        f"max {f['max']} audited items; missed {f['missed']}, fired before the drop {f['early']}"
    )
    print(
        f"  stable 97% for {args.long_run} audited items: "
        f"false alarm rate {f['false_alarm_rate']:.1%} per run"
    )
    print(
        f"threshold simulator: 95% interval coverage over {args.coverage_seeds} seeds "
        "(10,000 runs each, threshold 0.90, audit rate 5%)"
    )
    for t, (truth, weighted, flat) in simulator_coverage(args.coverage_seeds).items():
        print(f"  t={t:.2f} true error {truth:.2%}: weighted {weighted:.1%}, unweighted {flat:.1%}")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
