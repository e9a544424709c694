"""Hosted calls through the real ``openai:`` provider against a real HTTP stub on loopback: retries on 429 (with
Retry-After), a FAILED variant after the retry budget on 500s, timeouts, and concurrency across worker processes
that changes nothing in the results."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.spec import ExperimentSpec
from workbench.testing import HashingEmbedder
from workbench.testing.openai_stub import OpenAIStub
from workbench.tracking import MemoryTracker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def start(stub: OpenAIStub) -> OpenAIStub:
        monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        return stub

    return start


def spec_of(*, questions: int = 3, models: tuple[str, ...] = ("openai:gpt-4o-mini",), prompts: int = 1, **extra: object) -> ExperimentSpec:
    data = {
        "name": "hosted",
        "dataset": {"path": "datasets/python_docs.jsonl", "limit": questions},
        "corpus": {"builtin": "python-reference"},
        "prompts": [{"name": f"p{i}", "template": f"Context: {{context}}\nQuestion {i}: {{question}}"} for i in range(prompts)],
        "models": [{"id": m, "params": {"max_tokens": 32, "timeout_s": 5}} for m in models],
        "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        "scorers": ["token_f1", "hit_at_k"],
        **extra,
    }
    return ExperimentSpec.from_dict(data, base_dir=ROOT)


def sweep(spec: ExperimentSpec, settings, *, logged: bool = False):  # type: ignore[no-untyped-def]
    """The sweep's result, its runs kept in memory: most tests read only the result (logging it to MLflow took most of
    their time). ``logged``: in the settings' MLflow store, where a later sweep can reuse them."""
    return wb.run(spec, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, index_store=MemoryIndexStore(), settings=settings,
                  progress=False, tracker=None if logged else MemoryTracker())


def test_a_rate_limit_is_retried_after_retry_after_and_counted(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    script = lambda n: (429, {"Retry-After": "0.2"}, 0.0) if n == 0 else (200, {}, 0.0)  # noqa: E731
    with stub_env(OpenAIStub(script=script)) as stub:
        result = sweep(spec_of(), wb_settings)
    (variant,) = result.variants
    assert variant.status == "FINISHED"
    assert stub.statuses == [429, 200, 200, 200]
    assert variant.metrics["retries"] == 1
    assert variant.metrics["question_errors"] == 0
    assert all(r.answer for r in variant.records)


def test_server_errors_past_the_retry_budget_fail_the_variant(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    with stub_env(OpenAIStub(script=lambda n: (500, {}, 0.0))) as stub:
        result = sweep(spec_of(execution={"retries": 2}), wb_settings)
    (variant,) = result.variants
    assert variant.status == "FAILED"
    assert "every question failed" in (variant.outcome.error or "")
    assert "InternalServerError" in (variant.outcome.error or "")
    assert stub.requests == 3 * (1 + 2)  # three questions, each tried once and retried twice


def test_a_429_saying_the_quota_is_used_up_is_not_retried(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    """OpenAI answers 429 with code insufficient_quota when the account has no credit: no wait mends it."""
    with stub_env(OpenAIStub(script=lambda n: (429, {"Retry-After": "0"}, 0.0), error_code="insufficient_quota")) as stub:
        result = sweep(spec_of(execution={"retries": 3}), wb_settings)
    (variant,) = result.variants
    assert variant.status == "FAILED"
    assert "insufficient_quota" in (variant.outcome.error or "")
    assert stub.requests == 3  # each question asked once
    assert variant.metrics["retries"] == 0


def test_a_slow_provider_times_out_and_each_timeout_is_retried(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    spec = spec_of(questions=2, execution={"retries": 1})
    spec = spec.model_copy(update={"models": tuple(m.model_copy(update={"params": m.params.model_copy(update={"timeout_s": 0.3})}) for m in spec.models)})
    with stub_env(OpenAIStub(delay_s=2.0)) as stub:
        result = sweep(spec, wb_settings)
    (variant,) = result.variants
    assert variant.status == "FAILED"
    assert "Timeout" in (variant.outcome.error or "")
    assert stub.requests == 2 * 2


def test_workers_answer_concurrently_and_the_results_are_identical(wb_settings, stub_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outcomes = {}
    for workers in (1, 4):
        with stub_env(OpenAIStub(delay_s=0.1)) as stub:
            spec = spec_of(questions=4, prompts=2, models=("openai:gpt-4o-mini", "openai:gpt-4o"), execution={"workers": workers})
            result = wb.run(spec, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, index_store=MemoryIndexStore(),
                            settings=wb_settings, progress=False, tracker=MemoryTracker(), fresh=True)
        assert all(v.status == "FINISHED" for v in result.variants)
        answers = {v.variant.id: [r.answer for r in v.records] for v in result.variants}
        metrics = {v.variant.id: {k: v.metrics[k] for k in ("token_f1", "hit_at_k", "input_tokens", "output_tokens")} for v in result.variants}
        outcomes[workers] = (answers, metrics, stub.max_in_flight, stub.requests)
    assert outcomes[1][0] == outcomes[4][0]
    assert outcomes[1][1] == outcomes[4][1]
    assert outcomes[1][2] == 1  # one worker: one call at a time
    assert 1 < outcomes[4][2] <= 4  # four workers: calls overlap, never more than the provider's limit (workers)
    assert outcomes[1][3] == outcomes[4][3] == 4 * 4


def test_a_provider_limit_caps_calls_in_flight_across_worker_processes(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    with stub_env(OpenAIStub(delay_s=0.15)) as stub:
        spec = spec_of(questions=4, prompts=2, models=("openai:gpt-4o-mini", "openai:gpt-4o"), execution={"workers": 4, "concurrency": {"openai": 2}})
        result = sweep(spec, wb_settings)
    assert all(v.status == "FINISHED" for v in result.variants)
    assert stub.max_in_flight == 2


def test_a_hosted_judge_keeps_to_its_providers_limit_across_worker_processes(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # judge calls held no slot: with concurrency {openai: 1}, four variants scoring at once sent four calls together
    from workbench.models import SMOLLM2_ID
    from workbench.testing import ScriptedModel

    spec = spec_of(questions=2, prompts=4, models=(SMOLLM2_ID,), judge="openai:gpt-4o-mini", scorers=["faithfulness"],
                   execution={"workers": 4, "concurrency": {"openai": 1}})
    answers = ScriptedModel(lambda p: p.text.splitlines()[-1], model_id=SMOLLM2_ID, kind="chat")  # one per prompt
    with stub_env(OpenAIStub(delay_s=0.2)) as stub:
        result = wb.run(spec, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID), SMOLLM2_ID: answers},
                        index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    assert all(v.status == "FINISHED" for v in result.variants), [v.outcome.error for v in result.variants]
    assert stub.requests >= 8  # every variant's questions were judged
    assert stub.max_in_flight == 1


def test_the_stub_serves_from_its_own_process_and_reports_its_counters() -> None:
    import json
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "workbench.testing.openai_stub", "--delay", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Context: the answer\nQuestion: q"}]}).encode()
        request = urllib.request.Request(f"{base}/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.loads(reply.read())["choices"][0]["message"]["content"] == "the answer"
        with urllib.request.urlopen(f"{base}/stats", timeout=10) as reply:
            assert json.loads(reply.read()) == {"requests": 1, "max_in_flight": 1}
    finally:
        proc.kill()
        proc.wait()


def test_another_server_behind_the_same_model_string_is_asked_not_answered_from_the_first_ones_cache(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # OPENAI_BASE_URL moved from one server to another (a proxy, vLLM): same model string, different answerer
    with stub_env(OpenAIStub()) as first:
        assert sweep(spec_of(questions=2), wb_settings, logged=True).variants[0].status == "FINISHED"
    with stub_env(OpenAIStub()) as second:
        (variant,) = sweep(spec_of(questions=2), wb_settings, logged=True).variants
    assert first.requests == 2
    assert variant.status == "FINISHED" and variant.reused_from is None
    assert second.requests == 2  # neither the run nor its answers were reused from the other server


def test_a_judge_behind_another_server_scores_again_instead_of_reusing_the_run(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    from workbench.models import SMOLLM2_ID
    from workbench.testing import ScriptedModel

    spec = spec_of(questions=1, models=(SMOLLM2_ID,), judge="openai:gpt-4o-mini", scorers=["token_f1", "faithfulness"])
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID), SMOLLM2_ID: ScriptedModel(lambda p: "An answer.", model_id=SMOLLM2_ID, kind="chat",
                                                                                        identity="scripted:same-answers")}
    with stub_env(OpenAIStub()) as first:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    with stub_env(OpenAIStub()) as second:
        (variant,) = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False).variants
    assert first.requests > 0
    assert variant.reused_from is None and second.requests == first.requests  # judged by the server it names now


def test_a_provider_that_sends_no_token_counts_leaves_the_cost_unknown_not_zero(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # gpt-4o-mini has a price: with no token counts, what its answers cost is unknown, and the run must not say $0
    with stub_env(OpenAIStub(usage=False)):
        result = sweep(spec_of(questions=2), wb_settings)
    (variant,) = result.variants
    assert variant.status == "FINISHED" and all(r.answer for r in variant.records)
    assert [r.cost_usd for r in variant.records] == [None, None]
    assert "cost_usd" not in variant.metrics and "spent_usd" not in variant.metrics
    # nor its tokens: they were logged as 0, the fewest of any variant on the leaderboard (lower is better)
    assert "input_tokens" not in variant.metrics and "output_tokens" not in variant.metrics
    assert variant.records_frame()[["input_tokens", "output_tokens"]].isna().all().all()  # unknown per question too
    # and the run says why: the model has a price, so no note said anything (cost_usd was just missing)
    (note,) = result.price_notes
    assert note.startswith("openai:gpt-4o-mini: its server sent no token counts with 2 of 2 answers, so what they cost is missing")
    assert note in result.notes


def test_a_judge_whose_server_sends_no_token_counts_is_named_and_an_unpriced_judge_names_the_judge_metrics(  # type: ignore[no-untyped-def]
    wb_settings, stub_env
) -> None:
    # the judge's cost went missing from judge_cost_usd and judge_spent_usd with no word, and a judge without a price was
    # said to leave cost_usd and spent_usd missing: those are the answering model's, and were there
    from workbench.models import SMOLLM2_ID
    from workbench.testing import ScriptedModel

    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID),
              SMOLLM2_ID: ScriptedModel(lambda p: "An answer.", model_id=SMOLLM2_ID, kind="chat")}
    spec = spec_of(questions=1, models=(SMOLLM2_ID,), judge="openai:gpt-4o-mini", scorers=["token_f1", "faithfulness"])
    with stub_env(OpenAIStub(usage=False)):
        result = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    (variant,) = result.variants
    assert variant.metrics["judge_calls"] > 0 and "judge_cost_usd" not in variant.metrics and "cost_usd" in variant.metrics
    (note,) = result.price_notes
    assert note == ("openai:gpt-4o-mini: its server sent no token counts with some judge replies (1 of 1 judged variants), so what "
                    "the judge cost is missing (judge_cost_usd, judge_spent_usd) — have the server (or the proxy in front of it) send "
                    "usage with each reply")
    unpriced = spec_of(questions=1, models=(SMOLLM2_ID,), judge="openai:my-served-judge", scorers=["token_f1", "faithfulness"])
    with stub_env(OpenAIStub()):
        result = wb.run(unpriced, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker())
    (note,) = result.price_notes
    assert note.startswith("openai:my-served-judge: no price known, so what it cost is missing (judge_cost_usd, judge_spent_usd) — ")


def test_a_token_budget_that_counted_no_tokens_says_so(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # limits.max_tokens as a spending cap: with no token counts it could never be reached, and nothing said so
    with stub_env(OpenAIStub(usage=False)):
        result = sweep(spec_of(questions=2, models=("openai:my-served-model",), limits={"max_tokens": 10}), wb_settings)
    assert result.variants[0].status == "FINISHED"
    unpriced, uncounted = result.price_notes
    assert unpriced.startswith("openai:my-served-model: no price known")
    assert uncounted.startswith("openai:my-served-model: its server sent no token counts with 2 of 2 answers, so the token budget "
                                "(limits.max_tokens: 10) counted none of their tokens — have the server")


def test_a_server_that_ignores_max_tokens_is_named(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # LangChain sends the cap as max_completion_tokens, which older llama.cpp servers do not read (nor does the stub):
    # they answered unbounded while the run's params said max_tokens 2, and nothing said so
    data = spec_of(questions=2).model_dump(mode="json")
    data["models"][0]["params"]["max_tokens"] = 2
    with stub_env(OpenAIStub()):
        result = sweep(ExperimentSpec.from_dict(data, base_dir=ROOT), wb_settings)
    (variant,) = result.variants
    assert variant.status == "FINISHED" and all(r.generation and r.generation.output_tokens > 2 for r in variant.records)
    (note,) = result.cap_notes
    assert note.startswith("openai:gpt-4o-mini: 2 of 2 answers are longer than its max_tokens (by up to ")
    assert "max_completion_tokens" in note and note in result.notes


def test_a_hosted_embedder_sends_its_texts_and_downloads_no_tokenizer(stub_env, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """langchain-openai's default counts tokens with tiktoken, whose encoding is downloaded at first use, and sends
    token ids, which OpenAI-compatible servers (vLLM, proxies) refuse; the texts go as they are."""
    from workbench.models import load_embedder

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))  # empty: a download would be needed
    texts = ["The sky is blue.", "Rayleigh scattering, explained"]
    with stub_env(OpenAIStub()) as stub:
        vectors = load_embedder("openai:text-embedding-3-small").embed(texts)
    assert stub.embedding_inputs == texts
    assert len(vectors) == 2 and vectors[0] != vectors[1]
    assert not (tmp_path / "tiktoken").exists()


def test_a_hosted_judge_is_retried_on_a_rate_limit_like_the_answering_model(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    from workbench.models import SMOLLM2_ID
    from workbench.testing import ScriptedModel

    spec = spec_of(questions=1, models=(SMOLLM2_ID,), judge="openai:gpt-4o-mini", scorers=["token_f1", "faithfulness"])
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID), SMOLLM2_ID: ScriptedModel(lambda p: "An answer.", model_id=SMOLLM2_ID, kind="chat")}
    script = lambda n: (429, {"Retry-After": "0.1"}, 0.0) if n == 0 else (200, {}, 0.0)  # noqa: E731
    with stub_env(OpenAIStub(script=script)) as stub:
        (variant,) = wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False, tracker=MemoryTracker()).variants
    assert stub.statuses[:2] == [429, 200]
    assert variant.metrics["judge_call_errors"] == 0  # the judge's first call was rate limited, then answered


def test_a_hosted_embedding_model_is_retried_on_rate_limits_like_the_chat_model(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # the openai client's own two retries were all an embedding call had: three 429s in a row failed the index build
    script = lambda n: (429, {"Retry-After": "0.05"}, 0.0) if n < 3 else (200, {}, 0.0)  # noqa: E731
    spec = spec_of(questions=2, retrieval=[{"embedding": "openai:text-embedding-3-small", "k": 2}])
    with stub_env(OpenAIStub(script=script)) as stub:
        (variant,) = sweep(spec, wb_settings).variants
    assert stub.statuses[:4] == [429, 429, 429, 200]
    assert variant.status == "FINISHED", variant.outcome.error


def test_an_answer_cut_at_max_tokens_says_so_in_the_per_question_table_and_its_reuse(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # a cut-off or filtered answer looked like a complete one everywhere but in its trace's span
    with stub_env(OpenAIStub(finish_reason="length")):
        (first,) = sweep(spec_of(questions=2), wb_settings, logged=True).variants
        (again,) = sweep(spec_of(questions=2), wb_settings, logged=True).variants
    assert list(first.records_frame()["finish_reason"]) == ["length", "length"]
    assert again.reused_from is not None and list(again.records_frame()["finish_reason"]) == ["length", "length"]


def test_retries_of_questions_that_failed_in_the_end_are_counted_and_said(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # the retries metric counted only the retries of answers: a run whose calls all failed after retrying said 0
    script = lambda n: (500, {}, 0.0) if n < 3 else (429, {"Retry-After": "0"}, 0.0) if n == 3 else (200, {}, 0.0)  # noqa: E731
    with stub_env(OpenAIStub(script=script)):
        (variant,) = sweep(spec_of(questions=2, execution={"retries": 2}), wb_settings).variants
    first, second = variant.records
    assert first.error is not None and first.error.endswith("(after 2 retries)") and "InternalServerError" in first.error
    assert second.error is None and second.generation is not None and second.generation.retries == 1
    assert variant.metrics["retries"] == 3


def test_a_connection_dropped_without_a_reply_is_retried_and_one_that_keeps_dropping_fails_the_question(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    from workbench.testing.openai_stub import DROP

    script = lambda n: (DROP, {}, 0.0) if n in (0, 2, 3, 4) else (200, {}, 0.0)  # noqa: E731
    with stub_env(OpenAIStub(script=script)) as stub:
        (variant,) = sweep(spec_of(questions=2, execution={"retries": 2}), wb_settings).variants
    assert stub.statuses == [DROP, 200, DROP, DROP, DROP]
    first, second = variant.records
    assert first.error is None and first.answer and first.generation is not None and first.generation.retries == 1
    assert second.error is not None and second.error.startswith("RetriesExhausted: APIConnectionError: Connection error.")
    assert second.error.endswith("(after 2 retries)")
    assert variant.metrics["retries"] == 3 and variant.metrics["question_errors"] == 1


def test_a_hosted_judge_answers_ragas_through_the_real_client_priced_once(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # the stub answered a structured call with plain text, so no test saw a hosted judge's verdict, cost or reuse
    spec = spec_of(questions=2, judge="openai:gpt-4o-mini", scorers=["token_f1", "faithfulness"])
    with stub_env(OpenAIStub()) as stub:
        (first,) = sweep(spec, wb_settings, logged=True).variants
        asked = stub.requests
        (again,) = sweep(spec, wb_settings, logged=True).variants
    assert first.status == "FINISHED" and first.metrics["faithfulness"] == 1.0 and first.metrics["judge_call_errors"] == 0
    assert first.metrics["judge_calls"] > 0 and first.metrics["judge_cost_usd"] > 0
    assert first.metrics["judge_spent_usd"] == first.metrics["judge_cost_usd"]
    assert stub.requests == asked  # the second sweep reused the run: nothing asked, nothing spent
    assert again.metrics["faithfulness"] == 1.0 and again.metrics.get("judge_spent_usd", 0.0) == 0.0


def test_a_server_that_is_down_fails_each_question_after_the_first_at_once_not_after_its_whole_backoff(  # type: ignore[no-untyped-def]
    wb_settings, monkeypatch
) -> None:
    # every question of every variant went through all its retries and their backoff against a refused connection:
    # 90 s for two variants of 12 questions, hours for a real dataset
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", "stub-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    (variant,) = sweep(spec_of(questions=4, execution={"retries": 2}), wb_settings).variants
    assert variant.status == "FAILED"
    first, *rest = variant.records
    assert first.error is not None and first.error.endswith("Connection refused) (after 2 retries)")
    assert all(r.error is not None and r.error.endswith(
        "Connection refused) — not retried: the server could not be reached by an earlier call after 2 "
        "retries either") for r in rest)
    assert variant.metrics["retries"] == 2



def with_params(spec: ExperimentSpec, **params: float) -> ExperimentSpec:
    """``spec`` whose models answer with these params besides theirs (sampler settings: top_p...)."""
    return spec.model_copy(update={"models": tuple(m.model_copy(update={"params": m.params.model_copy(update=params)}) for m in spec.models)})


def test_the_sampler_settings_reach_the_real_clients_request_and_each_setting_keys_its_own_answers(  # type: ignore[no-untyped-def]
        wb_settings, stub_env) -> None:
    """top_p and the two penalties go into the body of the real openai client's request, and an answer cached at top_p
    0.5 is not the answer at top_p 0.9: that one is asked (a top_p left out of the cache key would be answered with it)."""
    nucleus = with_params(spec_of(questions=2), temperature=0.7, top_p=0.5, presence_penalty=0.2, frequency_penalty=-0.3)
    with stub_env(OpenAIStub()) as stub:
        sweep(nucleus, wb_settings)
        sent = [(b["top_p"], b["presence_penalty"], b["frequency_penalty"], b["temperature"]) for b in stub.chat_bodies]
        sweep(nucleus, wb_settings)
        again = stub.requests
        sweep(with_params(nucleus, top_p=0.9), wb_settings)
    assert sent == [(0.5, 0.2, -0.3, 0.7)] * 2
    assert again == 2  # the same settings again: both answers from the cache
    assert [b["top_p"] for b in stub.chat_bodies[2:]] == [0.9, 0.9]


def test_a_model_without_sampler_settings_sends_none_of_them(wb_settings, stub_env) -> None:  # type: ignore[no-untyped-def]
    # unset, the provider's defaults sample: nothing workbench chose goes into the request
    with stub_env(OpenAIStub()) as stub:
        sweep(spec_of(questions=1), wb_settings)
    [body] = stub.chat_bodies
    assert not {"top_p", "top_k", "presence_penalty", "frequency_penalty"} & set(body)
