"""A router variant in a real sweep (scripted models, real sqlite MLflow store): it escalates exactly the questions
whose signal fires, traces say which model answered and why, metrics and ``wb.compare`` report cost per model and the
router next to each model alone."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.comparison._routing import escalation_rate
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder, ScriptedModel

from ._answers import echo_context_answer
from .conftest import mlflow_client

DOCS = {
    "loops": "The for statement iterates over the items of a sequence, such as a list or a string, in the order that they appear.",
    "functions": "The def statement defines a function. A function definition binds the function name to a function object.",
    "classes": "The class statement creates a class object. A class definition binds the class name to the new class object.",
}
CASES = [  # (id, question, source): the cheap model's answer to each is scripted below
    ("q-grounded", "What does the for statement iterate over?", "loops"),
    ("q-refused", "What does the def statement define?", "functions"),
    ("q-ungrounded", "What does the class statement create?", "classes"),
    ("q-offtopic", "Zebra xylophone quokka marmalade?", "loops"),
]
# which signal fires for which question, by construction: the cheap model refuses q-refused (in the context's words, so
# it is grounded), talks about bananas for q-ungrounded; q-offtopic shares no word with any document (retrieval score
# 0, so the cheap model is not asked); q-grounded fires nothing
EXPECTED = {"q-refused": ("refusal_or_empty",), "q-ungrounded": ("grounding_below",), "q-offtopic": ("retrieval_score_below",)}
ROUTER = "smol-then-gemma"


def cheap_answer(prompt) -> str:  # type: ignore[no-untyped-def]
    if "def statement" in prompt.text:
        return "I cannot answer: the def statement defines a function, a function definition binds the function name."
    if "class statement" in prompt.text:
        return "Bananas are yellow fruit grown in warm countries."
    return echo_context_answer(prompt)


@pytest.fixture
def routing_spec(tmp_path: Path) -> ExperimentSpec:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / f"{name}.md").write_text(text + "\n", encoding="utf-8")
    rows = [
        {"id": i, "question": q, "reference": DOCS[s].split(". ")[0], "source_ids": [s], "category": "answerable"}
        for i, q, s in CASES
    ]
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cheap = {"id": SMOLLM2_ID, "params": {"max_tokens": 32}}
    strong = {"id": GEMMA_ID, "params": {"max_tokens": 32}}
    return ExperimentSpec.from_dict({
        "name": "routing-unit",
        "dataset": {"path": "questions.jsonl"},
        "corpus": {"path": "docs"},
        "prompts": [{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
        "models": [cheap, strong, {"router": {
            "name": ROUTER, "cheap": cheap, "strong": strong,
            "escalate_when": {"retrieval_score_below": 0.1, "refusal_or_empty": True, "grounding_below": 0.3},
        }}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "retrieval": [{"k": 1}],
        "pricing": {SMOLLM2_ID: {"input": 0.1, "output": 0.4}, GEMMA_ID: {"input": 2.5, "output": 10.0}},
    }, base_dir=tmp_path)


def _models() -> dict[str, object]:
    return {
        SMOLLM2_ID: ScriptedModel(cheap_answer, model_id=SMOLLM2_ID, kind="chat", identity="scripted-cheap"),
        GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID, identity="scripted-strong"),
        MINILM_ID: HashingEmbedder(model_id=MINILM_ID),
    }


def test_router_escalates_exactly_the_questions_whose_signal_fires(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    result = wb.run(routing_spec, models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    assert [v.status for v in result.variants] == ["FINISHED"] * 3
    routed = next(v for v in result.variants if v.variant.router is not None)
    assert routed.variant.name.split("|")[1] == ROUTER

    # per record
    for record in routed.records:
        assert record.escalated == (record.case.id in EXPECTED), record.case.id
        assert record.escalation is not None and record.escalation.fired == EXPECTED.get(record.case.id, ()), record.case.id
        assert record.answered_by == (GEMMA_ID if record.case.id in EXPECTED else SMOLLM2_ID)

    # per trace, as logged to the store
    traces = mlflow_client(wb_settings.tracking_uri).search_traces(locations=[result.experiment_id], run_id=routed.run_id)
    assert len(traces) == len(CASES)
    seen = set()
    for trace in traces:
        tags = trace.info.tags
        case = tags["workbench.case_id"]
        seen.add(case)
        escalated = case in EXPECTED
        assert tags["workbench.escalated"] == ("true" if escalated else "false"), case
        assert tags["workbench.answered_by"] == (GEMMA_ID if escalated else SMOLLM2_ID), case
        reasons = tags.get("workbench.escalation_reasons", "")
        assert (reasons.split(":")[0] if reasons else None) == (EXPECTED[case][0] if escalated else None), case
        spans = sorted(trace.data.spans, key=lambda s: s.start_time_ns)
        names = [s.name for s in spans]
        expected_spans = {
            "q-grounded": ["rag_pipeline", "retrieve", "generate (cheap)", "route"],
            "q-offtopic": ["rag_pipeline", "retrieve", "route", "generate (strong)"],
        }.get(case, ["rag_pipeline", "retrieve", "generate (cheap)", "route", "generate (strong)"])
        assert names == expected_spans, case
        route = next(s for s in spans if s.name == "route")
        assert route.outputs["escalate"] is escalated and route.outputs["fired"] == list(EXPECTED.get(case, ()))
        for span in spans:
            if span.name.startswith("generate"):
                assert span.attributes["model"] == (SMOLLM2_ID if "cheap" in span.name else GEMMA_ID)
    assert seen == {c[0] for c in CASES}

    # metrics: escalation rate, per-model tokens and cost, on the result and in the store
    m = routed.metrics
    assert m["escalation_rate"] == pytest.approx(3 / 4)
    calls = [c for r in routed.records for c in r.calls]
    assert m["calls_smollm2-135m-instruct"] == 3 and m["calls_gemma3-270m"] == 3  # no cheap call for the off-topic one
    assert m["tokens_gemma3-270m"] == sum(c.input_tokens + c.output_tokens for c in calls if c.model_id == GEMMA_ID)
    cheap_price, strong_price = routing_spec.price(SMOLLM2_ID), routing_spec.price(GEMMA_ID)
    assert m["cost_usd_gemma3-270m"] == pytest.approx(sum(strong_price.cost(c.input_tokens, c.output_tokens) for c in calls if c.model_id == GEMMA_ID))
    assert m["cost_usd_smollm2-135m-instruct"] == pytest.approx(sum(cheap_price.cost(c.input_tokens, c.output_tokens) for c in calls if c.model_id == SMOLLM2_ID))
    assert m["cost_usd"] == pytest.approx(m["cost_usd_gemma3-270m"] + m["cost_usd_smollm2-135m-instruct"])
    assert m["input_tokens"] + m["output_tokens"] == sum(c.input_tokens + c.output_tokens for c in calls)
    logged = mlflow_client(wb_settings.tracking_uri).get_run(routed.run_id).data
    assert logged.metrics["escalation_rate"] == pytest.approx(0.75)
    assert logged.params["router.cheap.id"] == SMOLLM2_ID and logged.params["router.escalate_when.grounding_below"] == "0.3"
    table = routed.records_frame()
    assert dict(zip(table["case_id"], table["escalated"])) == {c[0]: c[0] in EXPECTED for c in CASES}
    assert [len(calls) for calls in table["model_calls"]] == [len(r.calls) for r in routed.records]

    # the comparison: the router's cost per successful answer next to each model alone, with intervals
    report = wb.compare(result)
    assert report.routing is not None
    rows = {r["role"]: r for r in report.routing.to_dict(orient="records")}
    assert set(rows) == {"cheap", "strong"}
    alone = {v.variant.model.id: v for v in result.variants if v.variant.router is None}  # type: ignore[union-attr]
    assert rows["strong"]["model"] == alone[GEMMA_ID].variant.name and rows["cheap"]["model"] == alone[SMOLLM2_ID].variant.name
    assert rows["strong"]["router_cost_per_success"] == pytest.approx(m["cost_per_success_usd"])
    assert rows["strong"]["model_cost_per_success"] == pytest.approx(alone[GEMMA_ID].metrics["cost_per_success_usd"])
    assert rows["strong"]["router_low"] <= rows["strong"]["router_cost_per_success"] <= rows["strong"]["router_high"]
    assert rows["strong"]["n_paired"] == len(CASES) and rows["strong"]["escalation_rate"] == pytest.approx(0.75)
    assert "routing: cost per successful answer" in report.summary()
    # named as in the tables above it, without the parts every variant shares (each line held three whole names)
    assert f"\n  {ROUTER} (escalated 0.750) " in report.summary() and " vs strong alone gemma3-270m " in report.summary()
    assert report.to_dict()["routing"][0]["router"] == routed.variant.name


def test_a_router_variant_is_reused_and_a_price_change_recomputes_it(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    first = wb.run(routing_spec, models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    again = wb.run(routing_spec, models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    routed = [v for v in again.variants if v.variant.router is not None][0]
    assert routed.reused_from == [v for v in first.variants if v.variant.router is not None][0].run_id
    assert routed.metrics["escalation_rate"] == pytest.approx(0.75)
    # the reused run's records are read back with their routing: who answered, what fired, each call
    for record in routed.records:
        assert record.escalation is not None and record.escalation.fired == EXPECTED.get(record.case.id, ()), record.case.id
        assert record.answered_by == (GEMMA_ID if record.case.id in EXPECTED else SMOLLM2_ID)
    assert sum(len(r.calls) for r in routed.records) == 6
    reused_rows = {r["role"]: r for r in wb.compare(again).routing.to_dict(orient="records")}  # type: ignore[union-attr]
    assert reused_rows["strong"]["escalation_rate"] == pytest.approx(0.75)
    dearer = routing_spec.model_copy(update={"pricing": {**routing_spec.pricing, GEMMA_ID: routing_spec.pricing[SMOLLM2_ID].model_copy(update={"input": 5.0})}})
    third = wb.run(dearer.with_base_dir(routing_spec.base_dir), models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    assert [v for v in third.variants if v.variant.router is not None][0].reused_from is None


def test_a_promoted_router_is_exported_and_its_bundle_answers_as_the_router_did(routing_spec, wb_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    import yaml

    from workbench.promotion import config_hash

    result = wb.run(routing_spec, models=_models(), index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    routed = [v for v in result.variants if v.variant.router is not None][0]
    gates = [{"kind": "min_questions", "n": len(CASES)}, {"kind": "max_cost_per_answer", "usd": 1.0}]
    promoted = wb.promote(routed.run_id, name="routed-assistant", alias="staging", gates=gates, settings=wb_settings)
    alone = [v for v in result.variants if v.variant.router is None and v.variant.model.id == SMOLLM2_ID][0]  # type: ignore[union-attr]
    assert promoted.config_hash != wb.promote(alone.run_id, name="smol-assistant", alias="staging", gates=gates, settings=wb_settings).config_hash
    client = mlflow_client(wb_settings.tracking_uri)
    version = client.get_model_version_by_alias("routed-assistant", "staging")
    assert ROUTER in (version.description or "") and GEMMA_ID in (version.description or "")

    repo = tmp_path / "deploy"
    repo.mkdir()
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    exported = wb.export("routed-assistant", "staging", repo=repo, settings=wb_settings, checkout=True)
    written = yaml.safe_load((exported.path / "config.yaml").read_text(encoding="utf-8"))
    assert (written["router"]["cheap"]["id"], written["router"]["strong"]["id"], written["model"]["id"]) == (SMOLLM2_ID, GEMMA_ID, SMOLLM2_ID)
    assert written["router"]["escalate_when"] == {"retrieval_score_below": 0.1, "refusal_or_empty": True, "grounding_below": 0.3}
    # the experiment's pricing of both models, which the router's cost and its cost gate used
    assert written["prices"] == {SMOLLM2_ID: {"input": 0.1, "output": 0.4, "cached_input": None},
                                 GEMMA_ID: {"input": 2.5, "output": 10.0, "cached_input": None}}
    assert ROUTER in (exported.path / "EVALUATION.md").read_text(encoding="utf-8")

    bundle = wb.load_bundle(exported.path, corpus_path=tmp_path / "docs", models=_models(), index_store=MemoryIndexStore())
    assert bundle.config.config_hash == promoted.config_hash == config_hash(
        bundle.template.hash, bundle.config.model, 0, bundle.config.chunker, bundle.config.retrieval, bundle.config.corpus.hash,
        router=routing_spec.models[2].router)  # type: ignore[union-attr]
    for record in routed.records:  # the evaluated questions, replayed: the same model answers, for the same reasons
        got = bundle.answer(record.case.question)
        assert (got.model, got.escalated, got.answer) == (record.answered_by, record.escalated, record.answer), record.case.id
        assert got.escalation_reasons == record.escalation.reasons, record.case.id  # type: ignore[union-attr]
        assert got.cost_usd == pytest.approx(record.cost_usd) and record.cost_usd, record.case.id  # priced as evaluated, not unknown
    assert {r.case.id for r in routed.records if r.escalated} == set(EXPECTED)

    # a deployed router whose grounding embedding call fails cannot decide: one line saying to ask again (there is no
    # sweep nor cache to run again where it is served)
    class Unreachable(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            if any(t.startswith("Bananas") for t in texts):  # the cheap answer to q-ungrounded, embedded for grounding
                raise ConnectionError("embedding server unreachable")
            return super().embed(texts)

    flaky = wb.load_bundle(exported.path, corpus_path=tmp_path / "docs", models={**_models(), MINILM_ID: Unreachable(model_id=MINILM_ID)},
                           index_store=MemoryIndexStore())
    with pytest.raises(wb.BundleError, match=rf"^router {ROUTER} could not decide whether to escalate: grounding_below could not be "
                                             rf"measured \(embedding the cheap answer with {MINILM_ID} failed: ConnectionError: embedding server unreachable\) "
                                             r"— ask again$"):
        flaky.answer(CASES[2][1])

    # a cheap answer cut off by the request's timeout_s is refused, as a single model's is, and the strong model is not
    # asked (no time is left): the sweep does not keep such an answer either (its variant stops at its wall-time limit)
    class CutOff(ScriptedModel):
        def generate(self, prompt, params, *, deadline=None, json_schema=None):  # type: ignore[no-untyped-def]
            import dataclasses

            answer = super().generate(prompt, params, deadline=deadline, json_schema=json_schema)
            return dataclasses.replace(answer, finish_reason="deadline") if deadline is not None else answer

    models = {**_models(), SMOLLM2_ID: CutOff(cheap_answer, model_id=SMOLLM2_ID, kind="chat", identity="scripted-cheap")}
    hurried = wb.load_bundle(exported.path, corpus_path=tmp_path / "docs", models=models, index_store=MemoryIndexStore())
    with pytest.raises(wb.BundleError, match=rf"^no answer within timeout_s=30: {SMOLLM2_ID} was still writing it after \d+ tokens"):
        hurried.answer(CASES[0][1], timeout_s=30)
    assert models[GEMMA_ID].calls == []  # type: ignore[attr-defined]


def test_a_model_file_name_mlflow_refuses_in_a_metric_name_is_cleaned(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    gguf = f"llamacpp:{tmp_path / 'smol+q4 (1).gguf'}"
    cheap, strong = {"id": gguf, "kind": "chat", "params": {"max_tokens": 8}}, {"id": GEMMA_ID, "params": {"max_tokens": 8}}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "loops.md").write_text(DOCS["loops"] + "\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(json.dumps({"question": CASES[0][1], "reference": "items", "source_ids": ["loops"]}) + "\n")
    spec = ExperimentSpec.from_dict({
        "name": "routing-names", "dataset": {"path": "q.jsonl"}, "corpus": {"path": "docs"},
        "prompts": [{"name": "p", "template": "Context: {context}\nQuestion: {question}\nAnswer:"}],
        "models": [{"router": {"name": "r", "cheap": cheap, "strong": strong, "escalate_when": {"refusal_or_empty": True}}}],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
    }, base_dir=tmp_path)
    models = {gguf: ScriptedModel(lambda p: "", model_id=gguf, kind="chat"), GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    routed = result.variants[0]
    assert routed.status == "FINISHED" and routed.run_id is not None
    logged = mlflow_client(wb_settings.tracking_uri).get_run(routed.run_id).data.metrics
    assert logged["calls_smol_q4 _1_"] == 1 and logged["calls_gemma3-270m"] == 1  # the empty cheap answer escalated


def test_when_the_strong_model_fails_the_cheap_answer_stands(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    def down(prompt) -> str:  # type: ignore[no-untyped-def]
        raise ConnectionError("the strong model's server is down")

    models = {**_models(), GEMMA_ID: ScriptedModel(down, model_id=GEMMA_ID, identity="scripted-down")}
    result = wb.run(routing_spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    routed = next(v for v in result.variants if v.variant.router is not None)
    assert routed.status == "FINISHED"
    by_case = {r.case.id: r for r in routed.records}
    for case in ("q-refused", "q-ungrounded"):  # escalated after a cheap answer: that answer stands, the failure is on record
        record = by_case[case]
        assert record.escalated and record.error is None and record.answered_by == SMOLLM2_ID
        assert record.calls[0].generation is not None and record.answer == record.calls[0].generation.text
        assert [c.role for c in record.calls] == ["cheap", "strong"] and "server is down" in (record.calls[1].error or "")
    # the off-topic question goes straight to the strong model (no cheap answer to fall back to): it failed
    assert by_case["q-offtopic"].error is not None and routed.question_errors == 1
    assert result.routing_notes == (  # nothing else says the two escalated questions kept their cheap answers
        f"{routed.variant.name}: the strong model {GEMMA_ID} failed on 3 of the 3 questions it was asked: 2 kept their cheap answers "
        "and 1 failed, having none (first error: ConnectionError: the strong model's server is down) — fix it and run again (only "
        "those calls are asked again)",
    )  # it said all 3 kept their cheap answers
    assert by_case["q-grounded"].error is None and not by_case["q-grounded"].escalated


def test_a_router_holds_its_strong_models_provider_limit_too(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A router from one hosted provider to another took a slot of its cheap model's provider only: its strong calls
    went past the strong provider's limit while a variant of that provider alone held it (2 calls in flight for 1)."""
    cheap, strong = "openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"
    in_flight = {cheap: 0, strong: 0}
    most = dict(in_flight)
    lock = threading.Lock()

    def slow(model_id: str):  # type: ignore[no-untyped-def]
        def answer(prompt) -> str:  # type: ignore[no-untyped-def]
            with lock:
                in_flight[model_id] += 1
                most[model_id] = max(most[model_id], in_flight[model_id])
            time.sleep(0.05)
            with lock:
                in_flight[model_id] -= 1
            return echo_context_answer(prompt)

        return answer

    router = {"name": "mini-then-haiku", "cheap": {"id": cheap}, "strong": {"id": strong, "cache": False},
              "escalate_when": {"retrieval_score_below": 1.0}}  # every question goes to the strong model, never its cache
    spec = ExperimentSpec.from_dict({
        **routing_spec.model_dump(mode="json", exclude_none=True), "models": [{"id": strong, "cache": False}, {"router": router}],
        "execution": {"isolation": "none", "workers": 2, "concurrency": {"openai": 1, "anthropic": 1}},
    }, base_dir=routing_spec.base_dir)
    models = {cheap: ScriptedModel(slow(cheap), model_id=cheap, kind="chat"), strong: ScriptedModel(slow(strong), model_id=strong, kind="chat"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    assert [v.status for v in result.variants] == ["FINISHED"] * 2
    assert len(models[strong].calls) == 2 * len(CASES) and most[strong] == 1


def test_a_cheap_model_failing_on_every_question_is_said_not_hidden_in_the_escalation_rate(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A misspelt cheap model (404 on every call) escalated every question: the router was the strong model at the
    strong model's price, FINISHED with no question error, and nothing said why."""
    def missing(prompt) -> str:  # type: ignore[no-untyped-def]
        raise LookupError("404 model 'gpt-4o-mni' not found")

    models = {**_models(), SMOLLM2_ID: ScriptedModel(missing, model_id=SMOLLM2_ID, kind="chat", identity="scripted-missing")}
    spec = ExperimentSpec.from_dict({**routing_spec.model_dump(mode="json", exclude_none=True), "models": routing_spec.model_dump(mode="json", exclude_none=True)["models"][2:]},
                                    base_dir=routing_spec.base_dir)
    result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    (routed,) = result.variants
    assert routed.status == "FINISHED" and routed.question_errors == 0 and routed.metrics["escalation_rate"] == 1.0
    assert result.routing_notes == (  # the off-topic question went to the strong model without asking the cheap one
        f"{routed.variant.name}: the cheap model {SMOLLM2_ID} failed on 3 of the 3 questions it was asked, which went to {GEMMA_ID} "
        "instead (first error: LookupError: 404 model 'gpt-4o-mni' not found) — fix it and run again (only those calls are asked again)",
    )
    assert result.routing_notes[0] in result.notes


def test_a_router_run_with_a_failed_call_is_not_reused_and_the_next_sweep_asks_that_call_again(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A passing error on a cheap call escalated its question; the run had no question error, so every later sweep
    reused it: the router's cost and escalation rate kept that error for good, and the cheap call was never retried."""
    def flaky(prompt) -> str:  # type: ignore[no-untyped-def]
        if "for statement" in prompt.text:
            raise ConnectionError("connection reset")
        return cheap_answer(prompt)

    spec = ExperimentSpec.from_dict({**routing_spec.model_dump(mode="json", exclude_none=True), "models": routing_spec.model_dump(mode="json", exclude_none=True)["models"][2:]},
                                    base_dir=routing_spec.base_dir)
    flaky_models = {**_models(), SMOLLM2_ID: ScriptedModel(flaky, model_id=SMOLLM2_ID, kind="chat", identity="scripted-cheap")}
    (first,) = wb.run(spec, models=flaky_models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False).variants
    assert first.status == "FINISHED" and first.question_errors == 0
    assert {r.case.id: r.escalation.fired for r in first.records if r.escalation}["q-grounded"] == ("cheap_failed",)

    models = _models()  # the same cheap model (same identity), its server back
    (again,) = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False).variants
    assert again.reused_from is None and len(models[SMOLLM2_ID].calls) == 1  # only the failed call: the others from the cache
    grounded = next(r for r in again.records if r.case.id == "q-grounded")
    assert not grounded.escalated and grounded.answered_by == SMOLLM2_ID
    assert first.metrics["escalation_rate"] == 1.0 and again.metrics["escalation_rate"] == pytest.approx(3 / 4)


def test_a_grounding_embedding_that_fails_fails_its_question_not_the_router_and_the_next_sweep_completes_it(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """A hosted embedding model that failed while the router measured one answer's grounding failed the whole router
    variant ('ConnectionError: ...', its other questions' results lost); it is now that question's error, named as
    the grounding signal's, and the next sweep asks only that embedding again."""
    class Flaky(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            if any("Bananas" in t for t in texts):  # the cheap answer to q-ungrounded
                raise ConnectionError("embedding server reset the connection")
            return super().embed(texts)

    spec = ExperimentSpec.from_dict({**routing_spec.model_dump(mode="json", exclude_none=True), "models": routing_spec.model_dump(mode="json", exclude_none=True)["models"][2:]},
                                    base_dir=routing_spec.base_dir)
    sweep = wb.run(spec, models={**_models(), MINILM_ID: Flaky(model_id=MINILM_ID)}, index_store=MemoryIndexStore(), settings=wb_settings,
                   progress=False)
    (first,) = sweep.variants
    assert first.status == "FINISHED" and first.question_errors == 1 and len(first.records) == len(CASES)
    failed = next(r for r in first.records if r.case.id == "q-ungrounded")
    assert failed.error is not None and failed.error.startswith(f"grounding_below could not be measured: embedding the cheap answer with {MINILM_ID} failed")
    assert failed.answered_by == "" and [c.role for c in failed.calls] == ["cheap"] and first.metrics["calls_smollm2-135m-instruct"] == 3
    # the undecided question is left out of the escalation rate, in the run's metric and in compare alike: 2 of the 3
    # questions the router decided escalated (it said 2 of 4)
    assert first.metrics["escalation_rate"] == pytest.approx(2 / 3) == escalation_rate(first.records_frame())
    traces = mlflow_client(wb_settings.tracking_uri).search_traces(locations=[sweep.experiment_id], run_id=first.run_id)
    (trace,) = [t for t in traces if t.info.tags["workbench.case_id"] == "q-ungrounded"]
    route = next(s for s in trace.data.spans if s.name == "route")
    assert route.status.status_code == "ERROR" and "ConnectionError: embedding server reset" in route.inputs["grounding_error"]

    models = _models()
    (again,) = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False).variants
    assert again.reused_from is None and again.question_errors == 0
    assert models[SMOLLM2_ID].calls == [] and len(models[GEMMA_ID].calls) == 1  # the cheap answer from the cache; q-ungrounded escalates now
    assert {r.case.id: r.escalation.fired for r in again.records if r.escalation}["q-ungrounded"] == ("grounding_below",)


def test_compare_says_why_a_router_over_a_model_without_a_price_has_no_routing_rows(routing_spec, wb_settings) -> None:  # type: ignore[no-untyped-def]
    """The routing block vanished from the summary when a router's cost was unknown, with no word of why."""
    hosted = "openai:gpt-9-preview"
    data = json.loads(routing_spec.model_dump_json(exclude_none=True).replace(GEMMA_ID, hosted))
    del data["pricing"][hosted]
    spec = ExperimentSpec.from_dict(data, base_dir=routing_spec.base_dir)
    models = {**_models(), hosted: ScriptedModel(echo_context_answer, model_id=hosted, identity="scripted-strong")}
    report = wb.compare(wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False))
    assert report.routing is None
    assert (f"routing: {ROUTER} has no cost per successful answer to put next to its models alone: the cost of some of its "
            f"answers is unknown (a model without a price: give it under 'pricing:')") in report.summary(), report.summary()[-600:]
