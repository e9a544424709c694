"""A promotion gate no run of the experiment could pass is refused as the experiment loads, naming the gate's line and
field: a misspelt metric, a judge's score without a judge, a cost without prices, a router's metric without a router.
Each was found only by ``workbench promote``, after the sweep had run (and been paid for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import SpecError
from workbench.spec import load_experiment

HEAD = """\
name: t
dataset: {path: d.jsonl}
corpus: {builtin: python-reference}
prompts:
  - {name: a, template: "Context: {context}\\nQuestion: {question}\\nAnswer:"}
"""
GEMMA = "models:\n  - {id: local:gemma3-270m}\n"
ROUTER = ("models:\n  - router: {name: r1, cheap: {id: local:smollm2-135m-instruct}, strong: {id: local:gemma3-270m}, "
          "escalate_when: {refusal_or_empty: true}}\n")
OPENAI = "models:\n  - {id: 'openai:my-served-model'}\n"
TAIL = "chunkers:\n  - {strategy: recursive}\n"


def load(tmp_path: Path, models: str, gate: str, extra: str = "") -> object:
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + models + TAIL + extra + f"promotion:\n  gates:\n    - {{kind: min_questions, n: 5}}\n    - {gate}\n",
                    encoding="utf-8")
    return load_experiment(path)


@pytest.mark.parametrize(("models", "gate", "extra", "said"), [
    (GEMMA, "{kind: metric, metric: token_f11, min: 0.3}", "",
     "promotion.gates[1].metric: unknown metric 'token_f11' — did you mean 'token_f1'? (this experiment logs: hit_at_k, "),
    (GEMMA, "{kind: beats_holder, metric: rougel}", "",
     "promotion.gates[1].metric: unknown metric 'rougel' — did you mean 'rouge_l'? (this experiment logs: hit_at_k, "),
    (GEMMA, "{kind: metric, metric: faithfulness, min: 0.5}", "",
     "promotion.gates[1].metric: 'faithfulness' is scored by a judge model, and this experiment has none — add e.g. "
     "'judge: local:gemma3-270m', or gate on another metric"),
    (GEMMA, "{kind: max_failed_rate, scorer: context_recall_errors, rate: 0.1}", "",
     "promotion.gates[1].scorer: 'context_recall' is scored by a judge model, and this experiment has none — "),
    (GEMMA, "{kind: metric, metric: faithfulness, min: 0.5}", "judge: local:gemma3-270m\nscorers: [token_f1]\n",
     "promotion.gates[1].metric: 'faithfulness' is not among the experiment's scorers — add it to 'scorers:', or gate on "
     "one it scores (token_f1)"),
    (GEMMA, "{kind: metric, metric: faithfulness_std, max: 0.2}", "judge: local:gemma3-270m\n",
     "promotion.gates[1].metric: 'faithfulness_std' is logged only when the judge is asked more than once — set judge.n to 3, say"),
    (GEMMA, "{kind: metric, metric: judge_cost_usd, max: 1}", "",
     "promotion.gates[1].metric: 'judge_cost_usd' is logged only when a judge scores the answers — "),
    (GEMMA, "{kind: metric, metric: escalation_rate, max: 0.3}", "",
     "promotion.gates[1].metric: 'escalation_rate' is logged only by a router's variants, and this experiment has no router "),
    (OPENAI, "{kind: metric, metric: cost_per_success_usd, max: 0.01}", "",
     "promotion.gates[1].metric: 'cost_per_success_usd' is logged only when every answering model has a price, and "
     "'openai:my-served-model' has none — give it under 'pricing:'"),
    (OPENAI, "{kind: max_cost_per_answer, usd: 0.01}", "",
     "promotion.gates[1].usd: the cost of an answer is logged only when every answering model has a price, and "
     "'openai:my-served-model' has none — "),
    (GEMMA, "{kind: beats_holder, metric: latency_p95_s}", "",
     "promotion.gates[1].metric: 'latency_p95_s' is a run's aggregate, and beats_holder pairs each question's values — "),
    ("", "{kind: metric, metric: token_f1, min: 0.3}", "",
     "promotion.gates[1].metric: 'token_f1' scores answers, and this experiment has no models (it only retrieves) — gate on "
     "one of: hit_at_k, recall_at_k, mrr, precision_at_k, context_injection, latency_p50_s, latency_p95_s, questions"),
    (GEMMA, "{kind: metric, metric: metadata.year, min: 2020}", "",  # said "unknown metric", listing the metrics
     "promotion.gates[1].metric: 'metadata.year' is a column of the dataset, not a metric — a gate checks a metric the "
     "runs log (this experiment logs: hit_at_k, "),
    (GEMMA, "{kind: beats_holder, metric: metadata.difficulty}", "",
     "promotion.gates[1].metric: 'metadata.difficulty' is a column of the dataset, not a metric — "),
    (GEMMA, "{kind: max_failed_rate, scorer: faithfulnes, rate: 0.1}", "judge: local:gemma3-270m\n",
     "promotion.gates[1].scorer: unknown scorer 'faithfulnes' — did you mean 'faithfulness'? (this experiment scores: "),
])
def test_a_gate_no_run_could_pass_is_refused_naming_its_line_and_field(tmp_path: Path, models: str, gate: str, extra: str,
                                                                       said: str) -> None:
    with pytest.raises(SpecError) as info:
        load(tmp_path, models, gate, extra)
    where, line = str(info.value).split(": ", 1)
    line_at = (tmp_path / "exp.yaml").read_text(encoding="utf-8").splitlines().index(f"    - {gate}") + 1
    assert where == f"{tmp_path / 'exp.yaml'}:{line_at}" and line.startswith(said), str(info.value)


@pytest.mark.parametrize(("models", "gate", "extra"), [
    (GEMMA, "{kind: metric, metric: faithfulness, min: 0.5}", "judge: local:gemma3-270m\n"),
    (GEMMA, "{kind: max_failed_rate, scorer: faithfulness_errors, rate: 0.1}", "judge: local:gemma3-270m\n"),
    (GEMMA, "{kind: metric, metric: faithfulness_std, max: 0.2}", "judge: {id: local:gemma3-270m, n: 3}\n"),
    (GEMMA, "{kind: metric, metric: token_f1_errors, max: 0}", ""),
    (GEMMA, "{kind: metric, metric: cost_per_success_usd, max: 0.01}", ""),  # a local model costs 0
    (GEMMA, "{kind: beats_holder, metric: latency_s}", ""),
    (OPENAI, "{kind: max_cost_per_answer, usd: 0.01}", "pricing: {'openai:my-served-model': {input: 0.5, output: 1.5}}\n"),
    (ROUTER, "{kind: metric, metric: escalation_rate, max: 0.3}", ""),
    (ROUTER, "{kind: metric, metric: calls_gemma3-270m, max: 3}", ""),
    ("", "{kind: metric, metric: hit_at_k, min: 0.3}", ""),
])
def test_a_gate_on_a_metric_the_runs_log_loads(tmp_path: Path, models: str, gate: str, extra: str) -> None:
    assert load(tmp_path, models, gate, extra).promotion is not None  # type: ignore[attr-defined]


def test_the_metrics_a_gate_may_name_are_those_the_sweep_writes() -> None:
    # the check reads the sweep's own names (workbench.metrics; tests/execution/test_run_metrics.py holds them to what a
    # run logs): a misspelt entry there would refuse a gate on a metric every run logs
    from workbench import metrics
    from workbench.spec import run_metric_names

    listed = (*metrics.RUN_METRICS, *metrics.ANSWER_METRICS, *metrics.COST_METRICS, *metrics.JUDGE_METRICS, *metrics.ROUTER_METRICS,
              *metrics.QUESTION_MEASUREMENTS)
    assert sorted(set(listed) - metrics.RESERVED_NAMES) == []
    assert set(listed) <= set(run_metric_names())
