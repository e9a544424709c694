"""What a finished run is reused on: the reuse key of a variant (its data, models, scorers, seed and code)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.datasets import Corpus, Dataset
from workbench.errors import WorkbenchError
from workbench.execution import ModelResolver
from workbench.grid import Variant
from workbench.metrics import RETRIEVAL_METRICS, scorer_entries
from workbench.models import MINILM_ID
from workbench.scoring import JUDGED_METRICS, NON_LLM_METRICS, Judge, ScoreFn, ScorerEnv, build_scorers, code_digest
from workbench.spec import ExperimentSpec, JudgeSpec

__all__ = ["Scoring", "reuse_key", "reuse_keys", "sweep_scoring"]



def _scorer_code(scorers: Mapping[str, ScoreFn]) -> dict[str, list[str]]:
    """The digests of the scorers' code, by scorer name (computed once per sweep: every variant shares its scorers)."""
    # a scorer fixed in its notebook cell (or in a new workbench) scores differently: the code of the function that
    # scores, and of the factory of a scorer registered with @wb.scorer (it may return a helper of another cell)
    code = {name: [code_digest(fn)] for name, fn in scorers.items()}
    for name, entry in scorer_entries().items():
        if name in code and callable(entry.factory):
            code[name].insert(0, code_digest(entry.factory))
    return code


def _scorer_fingerprint(spec: ExperimentSpec, variant: Variant, scorers: Mapping[str, ScoreFn], code: Mapping[str, list[str]],
                        judge: Judge | None, judge_code: str | None = None) -> dict[str, Any]:
    """What the scores of a variant depend on besides its answers: the scorers (``code``: their ``_scorer_code``), the
    judge (``judge_code``: the digest of the code that reads its replies), the prices."""
    out: dict[str, Any] = {"scorers": sorted(scorers), "scorer_code": {name: list(digests) for name, digests in code.items()}}
    if set(scorers) & {*JUDGED_METRICS, *NON_LLM_METRICS}:
        # ragas scores them (its prompts, parsing, n-gram code), and the scorer code digests stop at installed libraries:
        # a ragas installed over the pinned one scores them again; the keys of runs scored without ragas stay as they were
        out["ragas"] = _version("ragas")
    if variant.model is None:
        return out
    if judge is not None:
        # a GGUF judge as its experiment file writes it: two clones of the project reuse each other's runs
        out["judge"] = spec.as_written(spec.judge.canonical.model_dump(mode="json")) if spec.judge is not None else judge.model_id
        # and the code that reads its replies (which JSON it accepts), which the scorers reach through env.judge
        out["judge_code"] = judge_code
    router = variant.router
    answering = (("price", variant.model.id),) if router is None else (("price_cheap", router.cheap.id), ("price_strong", router.strong.id))
    for role, model_id in (*answering, ("judge_price", spec.judge.id if spec.judge else None)):
        price = spec.price(model_id) if model_id else None
        # a cached-input price only when there is one, so the runs of a model priced without it are reused as before
        cached = [] if price is None or price.cached_input_per_m is None else [price.cached_input_per_m]
        out[role] = [price.input_per_m, price.output_per_m, *cached] if price is not None else None
    return out


@dataclass(frozen=True)
class Scoring:
    """A sweep's judge and scorers: those of the variants that answer, and of those that only retrieve."""

    judge: Judge | None
    answer_scorers: Mapping[str, ScoreFn]
    retrieval_scorers: Mapping[str, ScoreFn]

    def scorers_of(self, variant: Variant) -> Mapping[str, ScoreFn]:
        return self.answer_scorers if variant.generates else self.retrieval_scorers


def sweep_scoring(spec: ExperimentSpec, resolver: ModelResolver, judge: Judge | None, *, generating: bool) -> Scoring:
    """The judge (``judge``, else the spec's) and the scorers of a sweep of ``spec``; models load when first called."""
    the_judge = (judge or resolver.judge(spec)) if generating else None
    answer_scorers: Mapping[str, ScoreFn] = {}
    if generating:
        env = ScorerEnv(embedder=resolver.embedder(MINILM_ID), judge=the_judge, judge_repeats=spec.judge.n if spec.judge else 1)
        answer_scorers = build_scorers(spec.scorers, env)
    return Scoring(the_judge, answer_scorers, build_scorers(_retrieval_scorer_names(spec.scorers), ScorerEnv()))


def reuse_keys(
    spec: ExperimentSpec, variants: Sequence[Variant], resolver: ModelResolver, scoring: Scoring, *, given_judge: bool, dataset: Dataset,
    corpus: Corpus,
) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, WorkbenchError]]:
    """Variant id -> its reuse key (not for a variant always called: ``_always_called``); variant id -> the identities
    of its models, logged with its run; variant id -> why it cannot run (a provider package or API key missing: known
    before anything runs)."""
    judge_spec = None if given_judge else spec.judge
    code_of: dict[bool, dict[str, list[str]]] = {}  # the scorers' digests, once per sweep (not once per variant)
    judge_code = code_digest(type(scoring.judge).ask) if scoring.judge is not None else None
    keys: dict[str, str] = {}
    models_of: dict[str, dict[str, str]] = {}
    unservable: dict[str, WorkbenchError] = {}
    for v in variants:
        try:
            identities = resolver.identities(v, judge_spec)
        except WorkbenchError as exc:
            unservable[v.id] = exc
            continue
        models_of[v.id] = identities
        if not _always_called(v, judge_spec):
            if v.generates not in code_of:
                code_of[v.generates] = _scorer_code(scoring.scorers_of(v))
            keys[v.id] = reuse_key(v, dataset=dataset, corpus=corpus, models=identities,
                                   scoring=_scorer_fingerprint(spec, v, scoring.scorers_of(v), code_of[v.generates], scoring.judge, judge_code),
                                   seed=spec.seed)
    return keys, models_of, unservable


def _always_called(variant: Variant, judge: JudgeSpec | None) -> bool:
    """Whether a variant calls a model marked ``cache: false`` (one of its answering models, or the judge that scores
    its answers): such a variant is computed in every sweep, never reused from a finished run."""
    uncached_judge = judge is not None and not judge.cache and variant.generates
    return uncached_judge or any(not m.cache for m in variant.answering_models)


def reuse_key(variant: Variant, *, dataset: Dataset, corpus: Corpus, models: Mapping[str, str], scoring: Mapping[str, Any], seed: int) -> str:
    """The content address of a variant's finished run (pure): the same key means the same result.

    Args:
        variant: the variant (its id covers prompt, model and decoding parameters, chunker and retrieval setting; its
            index key also the revision of the chunking code, so a run retrieved from chunks an older workbench cut
            differently is not reused).
        dataset: the questions (their hash).
        corpus: the documents (their hash, which covers where their PDFs' pages start).
        models: the identities of the models that make its results (answering model, embedding model).
        scoring: the scorer set, judge and prices.
        seed: the sweep's seed.
    """
    payload = {
        "variant": variant.id, "index": variant.index_key, "dataset": dataset.hash, "corpus": corpus.hash, "models": dict(models), "scoring": dict(scoring),
        "seed": seed, "workbench": _version(), **_turn_stops(variant),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _turn_stops(variant: Variant) -> dict[str, list[str]]:
    """Where a completion model's answers end when they run on into a next turn of the variant's template (pure; empty
    when the template has no such stop, so the keys of the runs it does not change stay as they were): runs answered
    before these stops were applied ran on to max_tokens and are not reused."""
    completion = any(m.resolved_kind == "completion" for m in variant.answering_models)
    if variant.prompt is None or not completion:
        return {}
    stops = variant.prompt.as_template().turn_stops
    return {"turn_stops": list(stops)} if stops else {}


def _version(package: str = "workbench") -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _retrieval_scorer_names(names: Sequence[str] | None) -> list[str]:
    """What a retrieval-only variant is scored on: the spec's retrieval scorers, or all of them when it names none."""
    chosen = [n for n in names or () if n in RETRIEVAL_METRICS]
    return chosen or list(RETRIEVAL_METRICS)
