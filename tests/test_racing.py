"""Racing sweeps: variants answer in batches of questions and the ones clearly worse than the leader stop early.

The decision is tested pure; the sweep runs on a real sqlite MLflow store, real Chroma and worker processes, with
scripted models (their calls are recorded across processes): two good models and one planted hopeless one that always
answers "banana".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient

import workbench as wb
from workbench.cli import main
from workbench.cli._run_report import _racing_lines
from workbench.comparison import early_stops, race_leader
from workbench.config import Settings
from workbench.errors import SpecError
from workbench.execution import racing_order
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID
from workbench.promotion import PromotionError
from workbench.spec import ExperimentSpec, load_experiment
from workbench.testing import HashingEmbedder, ScriptedModel

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = 16
BANANA_ID = "llamacpp:/planted/banana.gguf"
PROMPT = {"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}
RACING = {"metric": "token_f1", "confidence": 0.95, "min_questions": 8, "batch": 4}

# -- the decision (pure) -------------------------------------------------------------------------------------------


def test_a_hopeless_variant_stops_once_it_has_min_questions_and_the_leader_never_does() -> None:
    good = [1.0, 0.8, 0.9, 1.0, 0.7, 0.9, 1.0, 0.8]
    bad = [0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.1, 0.0]
    assert early_stops({"good": good[:7], "bad": bad[:7]}, metric="token_f1", min_questions=8) == {}  # too few questions
    stops = early_stops({"good": good, "bad": bad}, metric="token_f1", min_questions=8)
    assert set(stops) == {"bad"}
    why = stops["bad"]
    assert why.leader == "good" and why.questions == 8 and why.metric == "token_f1"
    assert why.low <= why.estimate <= why.high < 0
    assert why.estimate == pytest.approx(sum(b - g for g, b in zip(good, bad)) / 8)


def test_a_variant_as_good_as_the_leader_keeps_running() -> None:
    a = [1.0, 0.5] * 6
    b = [0.5, 1.0] * 6  # same mean, opposite on each question: the interval straddles zero
    c = [1.0, 0.5] * 6  # a tie with the leader
    assert early_stops({"a": a, "b": b, "c": c}, metric="token_f1", min_questions=4) == {}
    assert race_leader({"a": a, "c": c}, "token_f1") == "a"  # a tie goes to the first listed
    assert race_leader({"c": c, "a": a}, "token_f1") == "c"


def test_for_a_lower_is_better_metric_the_higher_variant_stops() -> None:
    careful = [0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0]
    refuses = [1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 0.8, 1.0, 1.0, 1.0]
    assert race_leader({"refuses": refuses, "careful": careful}, "false_refusal") == "careful"
    stops = early_stops({"refuses": refuses, "careful": careful}, metric="false_refusal", min_questions=8)
    assert set(stops) == {"refuses"} and stops["refuses"].leader == "careful"
    assert 0 < stops["refuses"].low <= stops["refuses"].high
    # the same numbers on a higher-is-better metric: the other one stops
    assert set(early_stops({"refuses": refuses, "careful": careful}, metric="token_f1", min_questions=8)) == {"careful"}


def test_unscored_questions_do_not_count_towards_min_questions() -> None:
    good = [1.0] * 10
    errored = [0.0, None, 0.0, None, 0.0, None, 0.0, None, 0.0, 0.0]  # 6 scored answers
    assert early_stops({"good": good, "bad": errored}, metric="token_f1", min_questions=8) == {}
    assert set(early_stops({"good": good, "bad": errored}, metric="token_f1", min_questions=6)) == {"bad"}
    assert early_stops({"a": [None] * 9, "b": [None] * 9}, metric="token_f1") == {}  # nothing scored: no leader
    with pytest.raises(ValueError, match="same questions"):
        early_stops({"a": [1.0] * 8, "b": [0.0] * 9}, metric="token_f1")


def test_a_variant_that_failed_most_questions_does_not_lead_and_shield_the_hopeless_ones() -> None:
    """A flaky variant answered 3 of 12 questions, perfectly: its mean over those led, every other variant was paired
    with it on 3 questions (fewer than min_questions), and a hopeless variant clearly worse than the good one never
    stopped."""
    flaky = [1.0, None, None, None] * 3
    good = [0.9, 0.8, 0.85] * 4
    hopeless = [0.0, 0.1, 0.05] * 4
    race = {"flaky": flaky, "good": good, "hopeless": hopeless}
    stops = early_stops(race, metric="token_f1", min_questions=8)
    assert set(stops) == {"hopeless"} and stops["hopeless"].leader == "good" and stops["hopeless"].high < 0
    assert race_leader(race, "token_f1") == "flaky" and race_leader(race, "token_f1", min_scored=8) == "good"
    assert race_leader({"flaky": flaky}, "token_f1", min_scored=8) is None
    # at 99% an interval needs 7 pairs: a leader with 6 scored answers could stop nobody even with min_questions 4
    six = [1.0, 1.0, None, None] * 3
    assert set(early_stops({"six": six, "good": good, "hopeless": hopeless}, metric="token_f1", confidence=0.99, min_questions=4)) == {"hopeless"}


def test_a_tolerance_also_stops_a_variant_that_cannot_beat_the_leader_by_that_much() -> None:
    leader = [0.6, 0.5, 0.7, 0.6, 0.5, 0.6, 0.7, 0.5, 0.6, 0.6, 0.5, 0.7]
    close = [x - d for x, d in zip(leader, [0.02, -0.03, 0.03, -0.02, 0.01, 0.02, -0.02, 0.01, -0.01, 0.03, 0.01, -0.02])]
    open_ = [x - d for x, d in zip(leader, [0.4, -0.4, 0.3, -0.3, 0.4, -0.4, 0.3, -0.3, 0.4, -0.4, 0.3, -0.2])]
    race = {"leader": leader, "close": close, "open": open_}
    assert early_stops(race, metric="token_f1", min_questions=8) == {}  # neither is detectably worse
    stops = early_stops(race, metric="token_f1", min_questions=8, tolerance=0.05)
    assert set(stops) == {"close"}  # "open" may still be better than the leader by 0.05 or more
    why = stops["close"]
    assert why.low < 0 < why.high < 0.05 and why.tolerance == 0.05 and why.leader == "leader"
    assert why.label.endswith("vs leader (tolerance 0.05)")
    assert early_stops({"a": leader, "same": list(leader)}, metric="token_f1", min_questions=8, tolerance=0.01).keys() == {"same"}
    # a lower-is-better metric: the interval has to rule out being lower than the leader by the tolerance
    low = {"leader": [1 - x for x in leader], "close": [1 - x for x in close]}
    assert race_leader(low, "false_refusal") == "leader"
    assert set(early_stops(low, metric="false_refusal", min_questions=8, tolerance=0.05)) == {"close"}
    assert early_stops(low, metric="false_refusal", min_questions=8) == {}
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        early_stops(race, metric="token_f1", tolerance=-0.1)


def test_why_a_variant_stopped_reads_back_from_its_tags() -> None:
    from workbench.results import EarlyStop
    from workbench.tracking._reuse import early_stop_from_tags, racing_tags

    for stop in (EarlyStop("token_f1", 12, "plain", -0.01, -0.04, 0.03, 0.9, 0.05), EarlyStop("mrr", 8, "k3", -0.4, -0.5, -0.3)):
        assert early_stop_from_tags(racing_tags(stop)) == stop
    before = {k: v for k, v in racing_tags(EarlyStop("mrr", 8, "k3", -0.4, -0.5, -0.3)).items() if not k.endswith(".tolerance")}
    assert early_stop_from_tags(before) == EarlyStop("mrr", 8, "k3", -0.4, -0.5, -0.3)  # logged before tolerances existed
    assert early_stop_from_tags({}) is None


def test_racing_decides_after_every_batch_at_first_then_once_a_sixteenth_more_questions_were_answered() -> None:
    """Every decision bootstraps every question answered so far for every live variant: deciding after every batch of 4
    made racing quadratic in questions (1,250 decisions over 5,000 questions, minutes of a sweep's own time)."""
    from workbench.execution._racing import decision_due

    def decisions(total: int, batch: int) -> list[int]:
        out, last = [], 0
        for answered in range(batch, total, batch):
            if decision_due(answered, last, batch):
                out.append(answered)
                last = answered
        return out

    assert decisions(68, 4) == list(range(4, 68, 4))  # a small sweep decides after every batch, as before
    assert decisions(100, 1)[:17] == list(range(1, 18))
    many = decisions(5000, 4)
    assert len(many) < 100 and many[-1] > 4700  # not 1,249
    gaps = [b - a for a, b in zip([0, *many], many)]
    assert all(gap <= max(4, a // 16) + 4 for gap, a in zip(gaps, [0, *many]))  # a stop comes at most a 16th (+ a batch) later
    assert len(decisions(20000, 4)) < 125 and len(decisions(5000, 50)) < 60


# -- the spec --------------------------------------------------------------------------------------------------------


def spec_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "racing",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": QUESTIONS},
        "corpus": {"builtin": "python-reference"},
        "prompts": [PROMPT],
        "models": [{"id": GEMMA_ID, "params": {"max_tokens": 16}}, {"id": SMOLLM2_ID, "params": {"max_tokens": 16}}, {"id": BANANA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "retrieval": [{"k": 3}],
        "scorers": ["token_f1", "hit_at_k"],
        "execution": {"racing": RACING},
    }
    data.update(overrides)
    return data


def test_racing_spec_round_trips_and_a_bad_metric_is_one_located_line(tmp_path: Path) -> None:
    spec = ExperimentSpec.from_dict(spec_data(), base_dir=ROOT)
    assert spec.execution.racing is not None and spec.execution.racing.batch == 4
    path = spec.save(tmp_path / "ok.yaml")
    again = load_experiment(path)
    assert again.execution.racing == spec.execution.racing
    plain = load_experiment(ExperimentSpec.from_dict(spec_data(execution={}), base_dir=ROOT).save(tmp_path / "plain.yaml"))
    assert again.hash == plain.hash  # how it runs, not what

    bad = tmp_path / "bad.yaml"
    data = spec_data(execution={"racing": {**RACING, "metric": "token_f2"}})
    data["dataset"] = {"path": str(ROOT / "datasets" / "python_docs.jsonl")}
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad.yaml:\d+: execution.racing.metric: unknown metric 'token_f2' — ") as info:
        load_experiment(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(SpecError, match=r"execution: racing.metric 'rouge_l' is not among the experiment's scorers"):
        ExperimentSpec.from_dict(spec_data(execution={"racing": {**RACING, "metric": "rouge_l"}}))
    with pytest.raises(SpecError, match=r"racing.metric 'faithfulness' is not computed by default"):
        ExperimentSpec.from_dict(spec_data(scorers=None, execution={"racing": {**RACING, "metric": "faithfulness"}}))
    with pytest.raises(SpecError, match=r"execution.racing.min_questions"):
        ExperimentSpec.from_dict(spec_data(execution={"racing": {**RACING, "min_questions": 1}}))
    with pytest.raises(SpecError, match=r"execution.racing.confidence: 95 reads as a percentage — write it as a fraction, e\.g\. 0\.95$"):
        ExperimentSpec.from_dict(spec_data(execution={"racing": {**RACING, "confidence": 95}}))
    for tolerance in (-0.01, ".inf"):
        with pytest.raises(SpecError, match=r"execution.racing.tolerance"):
            ExperimentSpec.from_dict(spec_data(execution={"racing": {**RACING, "tolerance": tolerance}}))


# -- a racing sweep --------------------------------------------------------------------------------------------------


def raced_cases() -> list[dict[str, Any]]:
    """The first QUESTIONS cases of the dataset in the order racing asks them (the sweep's seed, 0)."""
    lines = (ROOT / "datasets" / "python_docs.jsonl").read_text(encoding="utf-8").splitlines()[:QUESTIONS]
    cases = {c["id"]: c for c in map(json.loads, lines)}
    return [cases[case_id] for case_id in racing_order(list(cases), 0)]


def references() -> dict[str, tuple[int, str]]:
    """Question -> (its position in racing's order, its reference) for the first QUESTIONS cases of the dataset."""
    return {c["question"]: (i, c["reference"]) for i, c in enumerate(raced_cases())}


def stop_at() -> int:
    """Where the hopeless variant stops: the first batch boundary with min_questions scored answers (token_f1 scores
    answerable questions only)."""
    answerable = [c["category"] == "answerable" for c in raced_cases()]
    return next(n for n in range(RACING["batch"], QUESTIONS + 1, RACING["batch"]) if sum(answerable[:n]) >= RACING["min_questions"])


def good_answer(odd_half: bool):  # type: ignore[no-untyped-def]
    """A good model: the reference, or its first half on every other question (the two good models alternate, so
    neither is detectably better than the other)."""
    refs = references()

    def answer(prompt: object) -> str:
        question = prompt.text.split("Question:")[-1].split("\nAnswer:")[0].strip()  # type: ignore[attr-defined]
        i, reference = refs[question]
        words = reference.split()
        return " ".join(words[: max(1, len(words) // 2)]) if (i % 2 == 1) == odd_half else reference

    return answer


def table_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a table as ``mlflow.log_table`` writes one (``columns`` and ``data``)."""
    return [dict(zip(table["columns"], values)) for values in table["data"]]


class Models:
    """The same fakes across sweeps (same identities, so their answers are cached like a real model's)."""

    def __init__(self) -> None:
        self.a = ScriptedModel(good_answer(True), model_id=GEMMA_ID, identity="scripted:racing-a")
        self.b = ScriptedModel(good_answer(False), model_id=SMOLLM2_ID, kind="chat", identity="scripted:racing-b")
        self.banana = ScriptedModel(lambda prompt: "banana", model_id=BANANA_ID, identity="scripted:racing-banana")

    def as_dict(self) -> dict[str, object]:
        return {GEMMA_ID: self.a, SMOLLM2_ID: self.b, BANANA_ID: self.banana, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}

    def calls(self) -> tuple[int, int, int]:
        return len(self.a.calls), len(self.b.calls), len(self.banana.calls)


@pytest.fixture
def wb_settings(indexed_settings: Settings) -> Settings:
    """No test here is about building indexes: the sweeps open built ones."""
    return indexed_settings


def test_a_racing_sweep_stops_the_hopeless_variant_early_and_a_full_rerun_computes_only_its_missing_questions(
    wb_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    models = Models()
    events: list[wb.ProgressEvent] = []
    spec = ExperimentSpec.from_dict(spec_data(), base_dir=ROOT)
    raced = wb.run(spec, settings=wb_settings, models=models.as_dict(), progress=False, on_event=events.append)  # type: ignore[arg-type]

    assert not raced.failed
    by_model = {v.variant.model.id: v for v in raced.variants}  # type: ignore[union-attr]
    banana, a, b = by_model[BANANA_ID], by_model[GEMMA_ID], by_model[SMOLLM2_ID]
    n = stop_at()
    assert n < QUESTIONS
    assert models.calls() == (QUESTIONS, QUESTIONS, n)  # the hopeless one stopped at the first batch it could
    assert banana.status == "FINISHED" and len(banana.records) == n and banana.metrics["generation_calls"] == n
    assert banana.stopped_early is not None and banana.stopped_early.questions == n
    assert banana.stopped_early.high < 0 and banana.stopped_early.leader in (a.variant.name, b.variant.name)
    for good in (a, b):
        assert good.stopped_early is None and len(good.records) == QUESTIONS and good.metrics["questions"] == QUESTIONS
        assert [r.case.id for r in good.records] == [c.id for c in raced.dataset.cases]  # in order, each once
    assert a.metrics["token_f1"] > 0.5 and banana.metrics["token_f1"] == 0.0

    # the variants that drop out are reported as they stop, before the others finish
    done = [e.variant.name for e in events if e.kind == "variant_done" and e.variant is not None]
    assert done[0] == banana.variant.name and len(done) == 3
    asked = [e for e in events if e.kind == "question_done" and e.variant is not None and e.variant.name == a.variant.name]
    assert [e.done for e in asked] == list(range(1, QUESTIONS + 1)) and {e.total for e in asked} == {QUESTIONS}
    assert sum(1 for e in events if e.kind == "variant_started") == 3

    # MLflow: a FINISHED run tagged as stopped early with its questions and interval, never reusable as a full run
    client = MlflowClient(wb_settings.tracking_uri)
    run = client.get_run(banana.run_id)
    tags = run.data.tags
    assert run.info.status == "FINISHED" and tags["workbench.status"] == "FINISHED"
    assert tags["workbench.racing.stopped"] == "true" and tags["workbench.racing.questions"] == str(n)
    low, high = (float(x) for x in tags["workbench.racing.interval"].split(","))
    assert low <= high < 0 and tags["workbench.racing.leader"] == banana.stopped_early.leader
    assert "workbench.reuse_key" not in tags and "workbench.reuse_key" in client.get_run(a.run_id).data.tags
    assert tags["mlflow.note.content"].startswith(f"Stopped early by racing {banana.stopped_early.label}:")  # the run page
    assert "mlflow.note.content" not in client.get_run(a.run_id).data.tags  # a run that finished needs no explaining
    assert run.data.metrics["questions"] == n
    board_json = json.loads(Path(client.download_artifacts(raced.parent_run_id, "leaderboard.json", str(wb_settings.root))).read_text())
    logged_rows = {row["run_id"]: row for row in table_rows(board_json)}  # the parent's summary says so too, not only 'questions'
    assert logged_rows[banana.run_id]["stopped_early"] == banana.stopped_early.label
    assert logged_rows[a.run_id]["stopped_early"] is None and logged_rows[a.run_id]["reused_from"] is None
    with pytest.raises(PromotionError, match=rf"stopped early by racing \(after {n} questions: token_f1 .*run the experiment again without racing"):
        wb.promote(banana.run_id, name="racing-banana", alias="staging", settings=wb_settings)  # type: ignore[arg-type]

    # the leaderboard and the comparison say so (from the result and read back from the store)
    board = raced.leaderboard()
    assert board["stopped_early"].notna().tolist() == [False, False, True]  # ranked after the variants that finished
    assert board.iloc[2]["variant"] == banana.variant.name and board.iloc[2]["questions"] == n
    for report in (wb.compare(raced), wb.compare("racing", tracking_uri=wb_settings.tracking_uri)):
        rows = report.table[report.table["metric"] == "token_f1"].set_index("variant")
        assert rows.loc[banana.variant.name, "stopped_early"].startswith(f"after {n} questions: token_f1 ")
        assert rows.loc[banana.variant.name, "n"] == sum(1 for r in banana.records if r.scores["token_f1"].value is not None)
        assert rows.loc[[a.variant.name, b.variant.name], "stopped_early"].isna().all()
        assert f"stopped early after {n} questions" in report.summary()
    # and so does `workbench run`
    assert _racing_lines(raced) == [
        f"stopped early {banana.variant.name}: {banana.stopped_early.label}",
        f"racing stopped 1 of 3 variants; {QUESTIONS - n} questions not asked (run without racing to finish them: "
        "only their missing questions are computed)",
    ]

    # finishing the stopped variant later costs only its missing questions
    full = ExperimentSpec.from_dict(spec_data(execution={}), base_dir=ROOT)
    finished = wb.run(full, settings=wb_settings, models=models.as_dict(), progress=False)  # type: ignore[arg-type]
    assert models.calls() == (QUESTIONS, QUESTIONS, QUESTIONS)  # the missing banana answers, nothing else
    again = {v.variant.model.id: v for v in finished.variants}  # type: ignore[union-attr]
    assert again[GEMMA_ID].reused_from == a.run_id and again[SMOLLM2_ID].reused_from == b.run_id
    board_json = json.loads(Path(client.download_artifacts(finished.parent_run_id, "leaderboard.json", str(wb_settings.root / "again"))).read_text())
    assert {row["run_id"]: row["reused_from"] for row in table_rows(board_json)} == {v.run_id: v.reused_from for v in finished.variants}
    rest = again[BANANA_ID]
    assert rest.reused_from is None and rest.stopped_early is None and len(rest.records) == QUESTIONS
    assert rest.metrics["generation_calls"] == QUESTIONS - n and rest.metrics["cache_hits"] == n
    assert _racing_lines(finished) == []

    # `workbench list` says which run stopped early and which were reused (a mean over n questions read like the others)
    assert main(["--tracking-uri", wb_settings.tracking_uri, "list", "racing"]) == 0
    listed = {line.split("run=")[1].split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("    ")}
    assert listed[banana.run_id].endswith(f"  (stopped early after {n} questions)")
    assert listed[again[GEMMA_ID].run_id or ""].endswith(f"  (reused from run {a.run_id})")
    assert "(" not in listed[a.run_id] and "(" not in listed[rest.run_id or ""]


def test_racing_over_fewer_questions_than_it_needs_to_stop_a_variant_says_so(wb_settings: Settings) -> None:
    """The planted hopeless variant cannot stop on 6 questions when 8 are needed: the user was told nothing."""
    spec = ExperimentSpec.from_dict(spec_data(execution={"isolation": "none", "racing": RACING}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False, limit=6)  # type: ignore[arg-type]
    assert not any(v.stopped_early for v in result.variants)
    assert _racing_lines(result) == ["racing could stop no variant: min_questions is 8 and only 6 questions were evaluated "
                                     "— lower execution.racing.min_questions, or evaluate more questions"]


def test_racing_over_fewer_questions_than_its_confidence_needs_says_so(wb_settings: Settings) -> None:
    """At 99% an interval needs 7 paired questions to stop a variant (on fewer it is only the range of the differences):
    on 6 questions with min_questions 4 the planted hopeless variant ran to the end, and nothing said why."""
    race = {**RACING, "confidence": 0.99, "min_questions": 4}
    spec = ExperimentSpec.from_dict(spec_data(execution={"isolation": "none", "racing": race}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False, limit=6)  # type: ignore[arg-type]
    assert not any(v.stopped_early for v in result.variants)
    assert _racing_lines(result) == ["racing could stop no variant: at 0.99 confidence it needs 7 paired questions to stop one "
                                     "(min_questions is 4) and only 6 questions were evaluated — evaluate more questions, or "
                                     "lower execution.racing.confidence"]


def test_racing_with_a_batch_too_large_to_decide_anything_says_so(wb_settings: Settings) -> None:
    """Nothing is decided after the last batch: a batch as large as the dataset raced nothing, and a batch whose last
    decision comes before min_questions stopped nothing, while `workbench run` said nothing of either."""
    spec = ExperimentSpec.from_dict(spec_data(execution={"isolation": "none", "racing": {**RACING, "batch": 16}}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False, limit=10)  # type: ignore[arg-type]
    assert not any(v.stopped_early for v in result.variants)
    assert _racing_lines(result) == ["racing could stop no variant: batch is 16 and only 10 questions were evaluated, so every "
                                     "variant answered them in one batch, after which nothing is decided — lower "
                                     "execution.racing.batch"]
    spec = ExperimentSpec.from_dict(spec_data(execution={"isolation": "none", "racing": {**RACING, "batch": 6}}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False, limit=10)  # type: ignore[arg-type]
    assert not any(v.stopped_early for v in result.variants)
    assert _racing_lines(result) == ["racing could stop no variant: it decides after each batch but the last, and with batch 6 "
                                     "over 10 questions its last decision came after 6 questions, fewer than the 8 it needs "
                                     "to stop one — lower execution.racing.batch"]


def test_racing_a_single_variant_says_it_has_nothing_to_race_against(wb_settings: Settings) -> None:
    spec = ExperimentSpec.from_dict(spec_data(models=[{"id": BANANA_ID}], execution={"isolation": "none", "racing": RACING}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False, limit=12)  # type: ignore[arg-type]
    assert [len(v.records) for v in result.variants] == [12] and result.variants[0].stopped_early is None
    assert _racing_lines(result) == ["racing could stop no variant: the sweep has one variant, and racing stops a variant only "
                                     "against a better one — add variants to race, or leave execution.racing out"]


def test_a_sweep_that_only_retrieves_is_not_raced_and_says_so(wb_settings: Settings) -> None:
    """Every question's retrieval is computed before any variant is scored: racing k=1 against k=5 'stopped' k=1 after
    16 of 24 questions, saving nothing, logging 8 fewer scores, and said '8 questions not asked'."""
    race = {**RACING, "metric": "hit_at_k"}
    data = spec_data(models=[], retrieval=[{"k": 1}, {"k": 5}], scorers=None, execution={"isolation": "none", "racing": race})
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), settings=wb_settings, models=Models().as_dict(), progress=False,  # type: ignore[arg-type]
                    limit=24)
    assert [(len(v.records), v.stopped_early) for v in result.variants] == [(24, None), (24, None)]
    assert _racing_lines(result) == ["racing raced nothing: this sweep only retrieves, and it retrieves every question before "
                                     "any variant is scored, so stopping a variant would save nothing — leave execution.racing out"]
    with pytest.raises(SpecError, match=r"racing.metric 'token_f1' needs answers, and this sweep only retrieves .* leave execution.racing out$"):
        ExperimentSpec.from_dict(spec_data(models=[], scorers=None, execution={"racing": RACING}), base_dir=ROOT)


def test_racing_on_a_metric_that_scores_few_of_the_questions_says_why_nothing_stopped(wb_settings: Settings) -> None:
    """refusal_correct scores the unanswerable and policy questions only (3 of the first 16): 16 questions were asked,
    yet no variant could reach min_questions scored answers, and the user was told nothing."""
    race = {**RACING, "metric": "refusal_correct"}
    spec = ExperimentSpec.from_dict(spec_data(scorers=["token_f1", "refusal_correct"], execution={"isolation": "none", "racing": race}),
                                    base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=Models().as_dict(), progress=False)  # type: ignore[arg-type]
    scored = sum(1 for r in result.variants[0].records if r.scores["refusal_correct"].value is not None)
    assert not any(v.stopped_early for v in result.variants) and scored < RACING["min_questions"]
    assert _racing_lines(result) == [
        f"racing could stop no variant: min_questions is 8 and at most {scored} of the {QUESTIONS} questions have a "
        "refusal_correct score — lower execution.racing.min_questions, race on a metric that scores more of them, or "
        "evaluate more questions"
    ]


def test_with_a_tolerance_racing_keeps_one_of_two_equally_good_variants(wb_settings: Settings) -> None:
    models = Models()  # the two good models alternate question by question: no interval separates them
    spec = ExperimentSpec.from_dict(spec_data(execution={"isolation": "none", "racing": {**RACING, "tolerance": 0.5}}), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=models.as_dict(), progress=False)  # type: ignore[arg-type]
    by_model = {v.variant.model.id: v for v in result.variants}  # type: ignore[union-attr]
    stopped = [by_model[m] for m in (GEMMA_ID, SMOLLM2_ID) if by_model[m].stopped_early is not None]
    kept = [by_model[m] for m in (GEMMA_ID, SMOLLM2_ID) if by_model[m].stopped_early is None]
    assert len(stopped) == 1 and len(kept) == 1 and by_model[BANANA_ID].stopped_early is not None
    why = stopped[0].stopped_early
    assert why is not None and why.low < 0 < why.high < 0.5 and why.leader == kept[0].variant.name  # not worse: not better by 0.5
    assert len(kept[0].records) == QUESTIONS and len(stopped[0].records) == why.questions < QUESTIONS
    assert sum(models.calls()) == QUESTIONS + 2 * stop_at() == sum(v.metrics["generation_calls"] for v in result.variants)
    assert MlflowClient(wb_settings.tracking_uri).get_run(stopped[0].run_id).data.tags["workbench.racing.tolerance"] == "0.5"


def test_nothing_stops_after_the_last_batch(wb_settings: Settings) -> None:
    models = Models()  # after 4 questions the banana has too few scored answers; after 8 there is nothing left to save
    spec = ExperimentSpec.from_dict(
        spec_data(dataset={"path": "datasets/python_docs.jsonl", "limit": 8}, execution={"racing": {**RACING, "min_questions": 5}}),
        base_dir=ROOT,
    )
    result = wb.run(spec, settings=wb_settings, models=models.as_dict(), progress=False)  # type: ignore[arg-type]
    assert all(v.stopped_early is None and len(v.records) == 8 for v in result.variants)
    assert models.calls() == (8, 8, 8)


def test_a_failed_batch_fails_its_variant_and_the_others_race_on(wb_settings: Settings) -> None:
    models = Models()
    refs = references()
    broken_after = {q for q, (i, _) in refs.items() if i >= 4}  # the second batch fails on every question

    def flaky(prompt: object) -> str:
        question = prompt.text.split("Question:")[-1].split("\nAnswer:")[0].strip()  # type: ignore[attr-defined]
        if question in broken_after:
            raise RuntimeError("model crashed")
        return refs[question][1]

    models.b = ScriptedModel(flaky, model_id=SMOLLM2_ID, kind="chat", identity="scripted:racing-flaky")
    spec = ExperimentSpec.from_dict(spec_data(), base_dir=ROOT)
    result = wb.run(spec, settings=wb_settings, models=models.as_dict(), progress=False)  # type: ignore[arg-type]
    by_model = {v.variant.model.id: v for v in result.variants}  # type: ignore[union-attr]
    failed = by_model[SMOLLM2_ID]
    # not 'every question failed': the first batch's 4 were answered
    assert failed.status == "FAILED" and (failed.outcome.error or "").startswith(
        "RuntimeError: every question of a racing batch failed (4 in the batch; 4 answered before it) — a larger "
        "execution.racing.batch rides out a passing error; first error: RuntimeError: model crashed")
    assert len(failed.records) == 8 and failed.stopped_early is None  # what it had: the first batch and the failed one
    assert len(by_model[GEMMA_ID].records) == QUESTIONS and by_model[BANANA_ID].stopped_early is not None
    assert MlflowClient(wb_settings.tracking_uri).get_run(failed.run_id).info.status == "FAILED"
    assert not math.isnan(by_model[GEMMA_ID].metrics["token_f1"])


def test_the_run_panel_lists_the_variants_that_drop_out(wb_settings: Settings) -> None:
    from workbench.widgets import RunPanel

    models = Models()
    panel = RunPanel(ExperimentSpec.from_dict(spec_data(), base_dir=ROOT), settings=wb_settings, models=models.as_dict())  # type: ignore[arg-type]
    result = panel.run()
    banana = next(v for v in result.variants if v.variant.model is not None and v.variant.model.id == BANANA_ID)
    assert banana.stopped_early is not None
    assert "Dropped out" in panel.dropped.value and banana.variant.name in panel.dropped.value
    # not 'clearly worse': with a tolerance a variant tied with the leader drops out too
    assert "(racing ruled out that they beat the leader)" in panel.dropped.value and "worse" not in panel.dropped.value
    assert f"after {stop_at()} questions" in panel.dropped.value
    assert "1 stopped early by racing" in panel.status.value
    assert "stopped_early" in panel.leaderboard.value


def test_a_variant_whose_later_batch_failed_keeps_that_batchs_sandbox() -> None:
    # a racing variant's result took its first batch's workdir: '' (removed, finished) although a later batch failed
    from dataclasses import replace

    from workbench.execution import failed_result
    from workbench.execution._racing import merge_parts
    from workbench.grid import expand_grid
    from workbench.pipeline import ChunkStats
    from workbench.sandbox import Outcome

    from .test_runner import make_spec

    variant = expand_grid(make_spec())[0]
    stats = ChunkStats(count=1, documents=1, mean_chars=1, median_chars=1, min_chars=1, max_chars=1, p95_chars=1)
    finished = replace(failed_result(variant, "", "", stats), outcome=Outcome("FINISHED"), workdir="")
    failed = replace(failed_result(variant, "boom", "RuntimeError", stats), workdir="/sandboxes/s/v")
    assert merge_parts([finished, failed]).workdir == "/sandboxes/s/v"
    assert merge_parts([finished, finished]).workdir == ""


def test_a_sweep_whose_first_variant_racing_stopped_is_compared_against_one_that_finished(wb_settings: Settings) -> None:
    """The default baseline was the first variant that answered: the hopeless model first in the grid, stopped after a
    batch, paired every other variant's difference over that batch alone, in comparison.json too."""
    data = spec_data(models=[{"id": BANANA_ID}, {"id": GEMMA_ID, "params": {"max_tokens": 16}}, {"id": SMOLLM2_ID, "params": {"max_tokens": 16}}],
                     execution={"isolation": "none", "racing": RACING})
    raced = wb.run(ExperimentSpec.from_dict(data, base_dir=ROOT), settings=wb_settings, models=Models().as_dict(), progress=False)  # type: ignore[arg-type]
    banana, gemma, smol = raced.variants
    assert banana.stopped_early is not None and gemma.stopped_early is None
    client = MlflowClient(wb_settings.tracking_uri)
    logged = json.loads(Path(client.download_artifacts(raced.parent_run_id, "comparison.json", str(wb_settings.root))).read_text())
    for report in (wb.compare(raced), wb.compare(raced.parent_run_id, tracking_uri=wb_settings.tracking_uri)):
        assert report.baseline == logged["baseline"] == gemma.variant.name
        paired = report.table[(report.table["metric"] == "hit_at_k") & ~report.table["is_baseline"]].set_index("variant")["n_paired"]
        scored = report.row(gemma.variant.name, "hit_at_k")["n"]  # every labelled question, not the first batch's
        assert paired[smol.variant.name] == scored > paired[banana.variant.name] == report.row(banana.variant.name, "hit_at_k")["n"]
    assert wb.compare(raced, baseline=banana.variant.name).baseline == banana.variant.name  # named: as asked
