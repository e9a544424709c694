"""Comparing variants: bootstrap intervals over questions and verdicts that say whether a difference is real."""

from workbench.compare._stats import Interval, Verdict, bootstrap_mean, paired_bootstrap, verdict

__all__ = ["Interval", "Verdict", "bootstrap_mean", "paired_bootstrap", "verdict"]
