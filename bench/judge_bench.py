"""Benchmark: what constrained decoding buys a small local judge (time and failed judge calls).

Scores a handful of python_docs items with the four LLM-judged ragas scorers (faithfulness, answer relevancy,
context precision, context recall) and the embedded Gemma 3 270M as judge, three ways, in one process:

  unconstrained   the ragas prompt, free decoding, JSON taken from the text (what ragas through LangChain gets)
  llama-grammar   decoding under the schema with llama-cpp-python's ``grammar=`` (checks the whole vocabulary per token)
  constrained     decoding under the schema the way workbench does it (the model's favourite token checked first)

The modes are interleaved item by item, and the model's prompt cache is cleared before every judge call, so load on
the machine and prefix caching hit all modes alike. The answer judged is the item's reference answer, the contexts
are the first chunks of its labelled source document: no generation, no retrieval in the timing. Prints per-mode
time, judge calls, failures by kind, and ratios against the unconstrained baseline measured in the same run.

    .venv/bin/python bench/judge_bench.py [--items 3] [--max-tokens 256] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import workbench as wb
from workbench.models import GEMMA_ID, Generation, GenerationParams, load_embedder, load_generator

# The bench compares the model's own decoding internals with llama-cpp-python's grammar=, so it reaches into them.
from workbench.models._grammar import bounded_schema, json_grammar
from workbench.models._local import LlamaCppGenerator, _fit, _llama
from workbench.pipeline import chunk_corpus
from workbench.prompts import RenderedPrompt
from workbench.scoring import JudgeReply, ModelJudge, ScoreContext, ScorerEnv, build_scorers, judged_scorers
from workbench.spec import ChunkerSpec

ROOT = Path(__file__).resolve().parents[1]
MODES = ("unconstrained", "llama-grammar", "constrained")


class LlamaGrammarGenerator(LlamaCppGenerator):
    """The same model decoding JSON with llama-cpp-python's own ``grammar=`` (for comparison only)."""

    def generate(self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None,
                 json_schema: Mapping[str, Any] | None = None) -> Generation:
        if json_schema is None:
            return super().generate(prompt, params, deadline=deadline)
        llama, lock = _llama(str(self.path), self.n_ctx)
        schema_json = json.dumps(bounded_schema(json_schema, max_items=self.json_max_items, max_length=self.json_max_length), sort_keys=True)
        with lock:
            start = time.perf_counter()
            out = llama.create_completion(
                _fit(llama, prompt.text, self.n_ctx - params.max_tokens), grammar=json_grammar(schema_json),
                max_tokens=params.max_tokens, temperature=params.temperature, seed=params.seed,
            )
            latency = time.perf_counter() - start
        usage = out["usage"]
        return Generation(out["choices"][0]["text"], usage["prompt_tokens"], usage["completion_tokens"], latency,
                          out["choices"][0].get("finish_reason") or "stop")


class Cold:
    """A llama.cpp generator whose prompt cache is cleared before each call."""

    def __init__(self, inner: LlamaCppGenerator) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.kind = inner.kind

    def generate(self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None,
                 json_schema: Mapping[str, Any] | None = None) -> Generation:
        llama, lock = _llama(str(self.inner.path), self.inner.n_ctx)
        with lock:
            llama.reset()
        return self.inner.generate(prompt, params, deadline=deadline, json_schema=json_schema)


@dataclass
class Tally:
    seconds: float = 0.0
    calls: int = 0
    output_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    scores: int = 0
    score_errors: int = 0


class Recording:
    """A judge that keeps every reply."""

    def __init__(self, inner: ModelJudge) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.replies: list[JudgeReply] = []

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        reply = self.inner.ask(prompt, schema, repeat=repeat)
        self.replies.append(reply)
        return reply


def failure_kind(error: str) -> str:
    if "incomplete JSON" in error or "cut off" in error:
        return "cut off"
    if "not JSON" in error:
        return "unparseable"
    if "schema" in error or "does not fit" in error:
        return "wrong shape"
    if "range" in error or "came out as" in error:
        return "out of range"
    return "other"


def items(n: int) -> list[ScoreContext]:
    dataset = wb.load_dataset(ROOT / "datasets" / "python_docs.jsonl")
    corpus = wb.load_corpus("python-reference")
    chunks = chunk_corpus(corpus, ChunkerSpec(strategy="recursive", size=600, overlap=0), load_embedder("local:all-minilm-l6-v2").tokenizer)
    first: dict[str, list[str]] = {}
    for c in chunks:
        first.setdefault(c.doc_id, []).append(c.text)
    out = []
    for case in dataset.cases:
        if case.category == "answerable" and case.source_ids and len(out) < n:
            contexts = tuple(first[case.source_ids[0]][:2])
            out.append(ScoreContext(case.question, case.reference, case.reference, contexts, (case.source_ids[0],) * len(contexts),
                                    frozenset(case.source_ids), case.category))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    local = load_generator(GEMMA_ID)
    assert isinstance(local, LlamaCppGenerator)
    grammar = LlamaGrammarGenerator(local.model_id, local.path, kind=local.kind, n_ctx=local.n_ctx)

    def make_judge(generator: LlamaCppGenerator, constrained: bool) -> Recording:
        return Recording(ModelJudge(Cold(generator), constrained=constrained, max_tokens=args.max_tokens, timeout_s=args.timeout))

    judges = {"unconstrained": make_judge(local, False), "llama-grammar": make_judge(grammar, True), "constrained": make_judge(local, True)}
    embedder = load_embedder("local:all-minilm-l6-v2")
    scorers = {mode: build_scorers(judged_scorers(), ScorerEnv(embedder=embedder, judge=judge)) for mode, judge in judges.items()}
    tallies = {mode: Tally() for mode in MODES}
    cases = items(args.items)
    print(f"{len(cases)} items x {len(judged_scorers())} judged metrics x {len(MODES)} modes; judge {GEMMA_ID}, "
          f"max_tokens {args.max_tokens}, timeout {args.timeout:g}s")
    for i, ctx in enumerate(cases, start=1):
        for mode in MODES:
            judge, tally = judges[mode], tallies[mode]
            before = len(judge.replies)
            for name, fn in scorers[mode].items():
                start = time.perf_counter()
                score = fn(ctx)
                tally.seconds += time.perf_counter() - start
                if score.value is None and score.error is None:
                    continue
                tally.scores += 1
                if score.error is not None:
                    tally.score_errors += 1
                    if "range" in score.error or "came out as" in score.error:
                        tally.failures["out of range"] += 1
            for reply in judge.replies[before:]:
                tally.calls += 1
                tally.output_tokens += reply.output_tokens
                if reply.error is not None:
                    tally.failures[failure_kind(reply.error)] += 1
            print(f"  item {i}/{len(cases)} {mode:14s} {tally.seconds:7.1f}s so far", flush=True)

    kinds = ("unparseable", "wrong shape", "cut off", "out of range")
    print()
    print(f"{'mode':14s} {'time s':>8s} {'calls':>6s} {'out tok':>8s} {'tok/s':>6s} " + " ".join(f"{k:>12s}" for k in kinds)
          + f" {'failed calls':>13s} {'score errors':>13s}")
    for mode in MODES:
        t = tallies[mode]
        failed = sum(t.failures[k] for k in kinds if k != "out of range")
        print(f"{mode:14s} {t.seconds:8.1f} {t.calls:6d} {t.output_tokens:8d} {t.output_tokens / max(t.seconds, 1e-9):6.1f} "
              + " ".join(f"{t.failures[k]:12d}" for k in kinds)
              + f" {failed / max(t.calls, 1):12.0%} {t.score_errors:6d}/{t.scores:<6d}")
    base_t = tallies["unconstrained"]
    base_fail = sum(base_t.failures.values()) / max(base_t.calls, 1)
    print()
    print("ratios against unconstrained (same run):")
    for mode in MODES[1:]:
        t = tallies[mode]
        fail = sum(t.failures.values()) / max(t.calls, 1)
        fail_ratio = f"{fail / base_fail:.2f}" if base_fail else "n/a (baseline had no failures)"
        print(f"  {mode:14s} time x{t.seconds / max(base_t.seconds, 1e-9):.2f}   "
              f"time per output token x{(t.seconds / max(t.output_tokens, 1)) / (base_t.seconds / max(base_t.output_tokens, 1)):.2f}   "
              f"failure rate x{fail_ratio}   score errors {t.score_errors}/{t.scores} vs {base_t.score_errors}/{base_t.scores}")


if __name__ == "__main__":
    main()
