"""Execution: where and how a sweep's variants run.

A variant becomes a ``VariantJob`` (its questions already retrieved, its models named, its cache located). An
executor runs jobs and yields results as they finish: ``LocalExecutor`` in worker processes on this machine (limits
enforced from outside; a segfault, a hang or a memory blow-up is a FAILED run, never a dead notebook kernel), or in
threads of the caller's process with ``isolation: none``; ``RayExecutor`` as tasks on a Ray cluster.
``RacingExecutor`` wraps either to answer in batches of questions and stop the variants clearly worse than the leader.
"""

from workbench.execution._executors import Executor, LocalExecutor, executor_for, llama_threads
from workbench.execution._process import STOP_GRACE_S, check_can_start_workers, run_in_process
from workbench.execution._racing import RacingExecutor, merge_parts, racing_order
from workbench.execution._worker import ModelResolver, VariantJob, failed_result, generation_params, question_workers, run_job, variant_metrics

__all__ = [
    "STOP_GRACE_S",
    "Executor",
    "LocalExecutor",
    "ModelResolver",
    "RacingExecutor",
    "VariantJob",
    "check_can_start_workers",
    "executor_for",
    "failed_result",
    "generation_params",
    "llama_threads",
    "merge_parts",
    "question_workers",
    "racing_order",
    "run_in_process",
    "run_job",
    "variant_metrics",
]
