"""Run an experiment: build each shared index once, retrieve, run every variant through an executor, log to MLflow.

One engine for every kind of sweep: a variant with a prompt and a model retrieves and generates; a retrieval-only
variant (an experiment without ``models:``, or ``run(..., generate=False)``) retrieves and is scored on the retrieval
metrics. Both use the same indexes, the same tracker and the same leaderboard.

The caller's process owns the indexes and the tracker (one writer); generation and scoring run where the
experiment's ``execution`` section says (a worker process per variant by default, see ``workbench.execution``).

``_sweep`` runs one (``run``, its progress events, the checks before it starts); ``_inputs`` loads its dataset and corpus;
``_reuse`` computes the key a finished run is reused on; ``_plan`` says what a sweep would do without doing it.
"""

from workbench.runner._inputs import load_inputs, load_spec_corpus, load_spec_dataset
from workbench.runner._plan import plan_sweep
from workbench.runner._reuse import reuse_key
from workbench.runner._sweep import ProgressEvent, run

__all__ = ["ProgressEvent", "load_inputs", "load_spec_corpus", "load_spec_dataset", "plan_sweep", "reuse_key", "run"]
