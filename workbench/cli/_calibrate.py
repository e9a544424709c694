"""``workbench calibrate``: how far a run's judge agrees with human labels (accuracy, Cohen's kappa), variant by variant
for a sweep.
"""

from __future__ import annotations

import argparse

from workbench.cli._inputs import _input_file, _store
from workbench.cli._output import _print_table
from workbench.results import printable, without_secrets
from workbench.errors import WorkbenchError, shortened


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from workbench.errors import DataError
    from workbench.scoring import load_labels
    from workbench.tracking import calibrate_run, calibration_runs, run_kind

    _input_file(args.labels, "labels")
    labels = load_labels(args.labels)
    uri = _store(args, must_exist=True)
    is_sweep = run_kind(args.run_id, tracking_uri=uri) == "sweep"
    outcomes = []  # every run is read before anything is printed: an error is the only line
    for run in calibration_runs(args.run_id, tracking_uri=uri):
        try:
            outcomes.append((run, calibrate_run(run.run_id, labels, threshold=args.threshold, tracking_uri=uri), ""))
        except WorkbenchError as exc:  # DataError: labels that do not fit this variant; else it failed before any table
            if not is_sweep:
                raise
            if run.status == "FAILED" and not isinstance(exc, DataError):
                why = next(iter((run.error or "").strip().splitlines()), "") or str(exc)
                outcomes.append((run, None, f"the variant FAILED, so it has no judge scores ({shortened(without_secrets(why), 200)})"))
            else:
                outcomes.append((run, None, str(exc)))
    if not any(report is not None for _, report, _ in outcomes):
        first = next((why for _, _, why in outcomes), "it has no variants")
        # the first reason ends with what to do: label the metrics the judge scored, or the run's case ids
        raise WorkbenchError(f"sweep '{args.run_id}': no variant could be calibrated against {args.labels} (first: {first})")
    for run, report, skipped in outcomes:
        print(printable(f"{run.name}  (run {run.run_id})"))  # a run name is the store's: anyone can rename it in the UI
        if report is None:
            print(printable(f"    skipped: {skipped}"))
            continue
        _print_table(report.to_frame(), ("metric", "n", "accuracy", "kappa", "judge_pass", "human_pass", "both_pass",
                                         "judge_only", "human_only", "both_fail", "missing", "stale"))
        print()
    # kappa is 0, not NaN, when only one side gave a single verdict (the judge passed everything, the humans did not)
    print(f"threshold {args.threshold:g}: scores and labels at or above it count as a pass; kappa is NaN when judge and "
          "humans gave one and the same verdict throughout")
    return 0
