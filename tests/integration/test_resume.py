"""Resume after a crash, with the real local model, a real sqlite store and real Chroma: a `workbench run` process
killed with SIGKILL in the middle of a variant, then run again, finishes the sweep without asking the model the same
question twice; a re-run with one more prompt then asks the model only that prompt's questions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from workbench.cache import DiskCacheStore

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]
QUESTIONS = 2  # enough for a variant cut in the middle: one question answered, the other in flight or not asked


def write_experiment(folder: Path) -> Path:
    spec = {
        "name": "resume-it",
        "dataset": {"path": str(ROOT / "datasets" / "handbook.jsonl"), "limit": QUESTIONS},
        "corpus": {"path": str(ROOT / "datasets" / "handbook"), "glob": "*.md"},
        "prompts": [{"name": "grounded", "template": (ROOT / "experiments/prompts/grounded.txt").read_text()},
                    {"name": "plain", "template": (ROOT / "experiments/prompts/plain.txt").read_text()}],
        "models": [{"id": "local:gemma3-270m", "params": {"max_tokens": 8}}],  # resume is the subject, not the answers
        "chunkers": [{"strategy": "markdown", "size": 400, "overlap": 0}],
        "retrieval": [{"k": 2}],
        "scorers": ["token_f1", "hit_at_k"],  # resume is the subject: no scorer that loads another model
    }
    path = folder / "resume.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def workbench_run(experiment: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "run", str(experiment), "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_a_sweep_killed_mid_variant_resumes_without_repeating_a_question(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "WORKBENCH_ROOT": str(tmp_path), "WORKBENCH_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    experiment = write_experiment(tmp_path)
    cache = DiskCacheStore(home / "cache")

    first = workbench_run(experiment, env)
    deadline = time.monotonic() + 600
    while cache.info().entries.get("generation", 0) < QUESTIONS + 1:  # the first variant done, the second under way
        assert first.poll() is None, first.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    at_kill = cache.info()
    answered_before = at_kill.entries["generation"]
    in_flight = at_kill.misses["generation"] - answered_before  # a call the kill cut short (its answer is lost)
    assert QUESTIONS + 1 <= answered_before < 2 * QUESTIONS and in_flight in (0, 1)

    second = workbench_run(experiment, env)
    output = second.communicate(timeout=900)[0]
    assert second.returncode == 0, output[-3000:]
    info = cache.info()
    assert info.entries["generation"] == 2 * QUESTIONS
    # every question was answered once across both processes: the only call that can repeat is one the kill
    # interrupted (a worker may still finish it into the cache before it dies with its sweep)
    assert 2 * QUESTIONS <= info.misses["generation"] <= 2 * QUESTIONS + in_flight

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment_id = client.get_experiment_by_name("resume-it").experiment_id
    sweeps = client.search_runs([experiment_id], "tags.`workbench.kind` = 'sweep'", order_by=["attributes.start_time ASC"])
    assert [s.info.status for s in sweeps] == ["KILLED", "FINISHED"]
    assert "ended without closing the sweep" in sweeps[0].data.tags["workbench.end_reason"]
    assert not client.search_runs([experiment_id], "attributes.status = 'RUNNING'")
    variants = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{sweeps[1].info.run_id}'")
    assert len(variants) == 2 and {v.info.status for v in variants} == {"FINISHED"}
    calls = {v.info.run_name.split("|")[0]: v.data.metrics["generation_calls"] for v in variants}
    # only what the killed run had not answered (less the in-flight answer its dying worker may still have cached)
    assert 2 * QUESTIONS - answered_before - in_flight <= sum(calls.values()) <= 2 * QUESTIONS - answered_before

    # a re-run with one more prompt: the two finished variants are read back (not recomputed: the model is asked only
    # the new prompt's questions), and the new one costs only its questions
    spec = yaml.safe_load(experiment.read_text())
    spec["prompts"].append({"name": "brief", "template": "Answer briefly from the context.\n{context}\nQuestion: {question}\nAnswer:"})
    experiment.write_text(yaml.safe_dump(spec), encoding="utf-8")
    third = workbench_run(experiment, env)
    output = third.communicate(timeout=600)[0]
    assert third.returncode == 0, output[-3000:]
    assert cache.info().misses["generation"] == info.misses["generation"] + QUESTIONS
    assert "reused 2 of 3 variants" in output
    latest = client.search_runs([experiment_id], "tags.`workbench.kind` = 'sweep'", order_by=["attributes.start_time DESC"])[0]
    assert latest.data.metrics["variants_reused"] == 2
    warm = {v.info.run_name: v.data.metrics for v in client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{latest.info.run_id}'")}
    cold = {v.info.run_name: v.data.metrics for v in variants}
    for name, metrics in cold.items():  # the same results, read back instead of recomputed
        for metric in ("token_f1", "hit_at_k", "output_tokens", "latency_p50_s"):
            assert warm[name][metric] == pytest.approx(metrics[metric]), (name, metric)
