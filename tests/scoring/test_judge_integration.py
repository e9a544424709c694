"""The real embedded Gemma 3 270M as a constrained judge: every finished judge answer parses, every score is in range.

This checks the plumbing of constrained decoding, not the wisdom of a 270M base model's verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from workbench.config import settings
from workbench.models import GEMMA_ID
from workbench.models._local import LlamaCppGenerator, gemma_path, smollm2_path
from workbench.scoring import JudgeReply, ModelJudge, ScoreContext, ScorerEnv, build_scorers, judged_scorers, load_judge, run_scorers
from workbench.testing import HashingEmbedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# One item: each judged scorer asks the judge several times over it (claims, then verdicts), which is what is checked
# here; a second item doubled the test's time (40 s on 2 cores) without a new kind of call.
ITEMS = (
    ScoreContext(
        question="What does the pass statement do?",
        answer="pass does nothing.",
        reference="pass is a null operation.",
        contexts=("pass is a null operation: when it is executed, nothing happens.",),
    ),
)


class Recording:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.replies: list[JudgeReply] = []

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        reply = self.inner.ask(prompt, schema, repeat=repeat)
        self.replies.append(reply)
        return reply


def test_local_constrained_judge_outputs_parse_and_scores_lie_in_range() -> None:
    judge = Recording(load_judge(GEMMA_ID, max_tokens=160, timeout_s=90))
    scorers = build_scorers(judged_scorers(), ScorerEnv(embedder=HashingEmbedder(), judge=judge))
    rows = [run_scorers(scorers, ctx) for ctx in ITEMS]

    assert judge.replies, "the judge was never called"
    finished = [r for r in judge.replies if r.finish_reason == "stop"]
    assert len(finished) >= len(judge.replies) // 2, [(r.finish_reason, r.raw[:80]) for r in judge.replies]
    for reply in finished:  # under the grammar, an answer that ends by itself is valid JSON of the asked shape
        assert reply.ok, (reply.error, reply.raw)
        assert reply.input_tokens > 0 and reply.output_tokens > 0
    for reply in judge.replies:
        if not reply.ok:
            assert reply.finish_reason in ("length", "deadline") and reply.raw
    scored = 0
    for row in rows:
        for name in judged_scorers():
            score = row[name]
            assert score.judge is not None and score.judge.calls >= 1, name
            if score.error is None:
                assert score.value is not None and 0.0 <= score.value <= 1.0, (name, score.value)
                scored += 1
            else:
                assert score.value is None and score.explanation, (name, score.error)
    assert scored >= len(ITEMS) * len(judged_scorers()) // 2


VERDICT = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "verdict": {"type": "integer", "enum": [0, 1]}},
    "required": ["reason", "verdict"],
    "additionalProperties": False,
}
QUESTION = ("Context: pass is a null operation: when it is executed, nothing happens.\n"
            "Statement: pass does nothing.\nIs the statement supported by the context? Answer in JSON.\n")


@pytest.mark.parametrize("kind", ["completion", "chat"])
def test_a_local_judge_is_the_local_model_asked_for_json(kind: str) -> None:
    # a chat judge is a GGUF file with a chat template (Gemma 3 270M's has none: it is refused as a chat model)
    path = gemma_path(settings().model_dir) if kind == "completion" else smollm2_path()
    judge = load_judge(f"llamacpp:{path}", kind=kind, max_tokens=96, timeout_s=90)  # type: ignore[arg-type]
    assert isinstance(judge, ModelJudge) and isinstance(judge.generator, LlamaCppGenerator) and judge.generator.kind == kind
    reply = judge.ask(QUESTION, VERDICT)
    assert reply.finish_reason == "stop" and reply.ok, (reply.error, reply.raw)
    assert reply.value["verdict"] in (0, 1) and reply.input_tokens > 10 and reply.cost_usd == 0.0


def test_sampled_repeats_are_reproducible() -> None:
    judge = load_judge(GEMMA_ID, max_tokens=96, timeout_s=90, temperature=1.0, seed=5)
    first, again = judge.ask(QUESTION, VERDICT, repeat=1), judge.ask(QUESTION, VERDICT, repeat=1)
    assert first.raw == again.raw and first.raw


def test_a_cut_off_answer_is_an_error_reply_with_its_text() -> None:
    reply = load_judge(GEMMA_ID, max_tokens=4, timeout_s=90).ask(QUESTION, VERDICT)
    assert reply.finish_reason == "length" and not reply.ok and "max_tokens" in (reply.error or "") and reply.raw
