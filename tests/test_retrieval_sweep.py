"""Retrieval-only sweeps: the same runner with no generation, scored on retrieval metrics, tracked like any sweep."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import settings
from workbench.metrics import RETRIEVAL_METRICS
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import Chunk, MemoryIndexStore
from workbench.spec import ChunkerSpec, CorpusRef, RetrievalSpec
from workbench.testing import CountingIndexStore, HashingEmbedder, ScriptedModel

from tests.conftest import copy_store, open_files_under

ROOT = Path(__file__).resolve().parents[1]
CHUNKERS = (ChunkerSpec(strategy="markdown", size=600, overlap=0), ChunkerSpec(strategy="recursive", size=300, overlap=30))
RETRIEVAL = (RetrievalSpec(k=1), RetrievalSpec(k=4))
ONE = (RetrievalSpec(k=1),)  # fewer than a tiny corpus's chunks (a k of them all is a note of its own)


def make_spec(**update: object) -> wb.ExperimentSpec:
    spec = wb.ExperimentSpec.from_dict(
        {
            "name": "retrieval-lab",
            "dataset": {"path": "datasets/handbook.jsonl"},
            "corpus": {"path": "datasets/handbook", "glob": "*.md"},
            "prompts": [{"name": "p", "template": "{context} {question}"}],
            "models": [{"id": GEMMA_ID}],
            "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}],
        },
        base_dir=ROOT,
    )
    return spec.model_copy(update=update)



def test_grid_without_generation_is_chunkers_times_retrieval() -> None:
    c1, c2 = CHUNKERS
    r1, r2 = RetrievalSpec(k=1), RetrievalSpec(k=3, search="mmr", fetch_k=12)
    grid = wb.expand_grid(make_spec(chunkers=(c1, c2, c1), retrieval=(r1, r2)), generate=False)
    assert [v.name for v in grid] == ["markdown-600/0|k1-similarity", "markdown-600/0|k3-mmr", "recursive-300/30|k1-similarity", "recursive-300/30|k3-mmr"]
    assert all(not v.generates and v.prompt is None and v.model is None for v in grid)
    assert grid[0].index_key == grid[1].index_key != grid[2].index_key
    assert grid[3].params()["retrieval.fetch_k"] == "12" and grid[3].params()["chunker.strategy"] == "recursive"
    assert not any(k.startswith(("prompt.", "model.")) for k in grid[3].params())
    full = wb.expand_grid(make_spec(chunkers=(c1,), retrieval=(r1,)))
    assert full[0].generates and full[0].index_key == grid[0].index_key and full[0].id != grid[0].id


def test_an_experiment_without_models_is_a_retrieval_sweep_and_models_need_prompts() -> None:
    spec = make_spec(models=(), prompts=())
    assert [v.generates for v in wb.expand_grid(spec)] == [False]
    with pytest.raises(wb.SpecError, match="models need at least one prompt"):
        wb.ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.jsonl"}, "corpus": {"builtin": "python-reference"},
                                     "models": [{"id": GEMMA_ID}], "chunkers": [{"strategy": "recursive"}]})


def test_runs_retrieval_without_calling_a_generator_and_logs_a_sweep_in_mlflow(wb_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    generator = ScriptedModel([], model_id=GEMMA_ID)  # an empty script: any generation call would raise
    store = CountingIndexStore()
    events: list[wb.ProgressEvent] = []
    result = wb.run(
        make_spec(chunkers=CHUNKERS, retrieval=RETRIEVAL), generate=False, settings=wb_settings, index_store=store,
        on_event=events.append, progress=False, models={GEMMA_ID: generator, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)},
    )
    assert generator.calls == [] and len(store.builds) == 2
    assert [(e.done, e.total) for e in events if e.kind == "index_started"] == [(0, 2), (1, 2)]
    assert [e.kind for e in events].count("variant_done") == 4
    board = result.leaderboard()
    assert len(board) == 4 and set(board["status"]) == {"FINISHED"}
    assert set(RETRIEVAL_METRICS) <= set(board.columns) and "token_f1" not in board.columns and "cost_usd" not in board.columns
    assert list(board["mrr"]) == sorted(board["mrr"], reverse=True)
    assert board["model"].isna().all() and (board["chunks"] > 0).all()
    k1 = result.variant("markdown-600/0|k1-similarity")
    k4 = result.variant("markdown-600/0|k4-similarity")
    with pytest.raises(KeyError, match=r"no variant 'markdown-600/0\|k2' in this sweep — give a variant's name, id or run id: "
                                       r"markdown-600/0\|k1-similarity, "):
        result.variant("markdown-600/0|k2")
    assert all(len(r.hits) == 1 for r in k1.records) and all(len(r.hits) == 4 for r in k4.records)
    assert all(r.generation is None for r in k4.records)
    assert k4.metrics["recall_at_k"] >= k1.metrics["recall_at_k"]  # more chunks can only find more sources
    frame = k4.records_frame()
    assert len(frame) == 24 and {"case_id", "retrieved_ids", "retrieval_scores", "mrr"} <= set(frame.columns)
    assert "answer" not in frame.columns

    client = MlflowClient(wb_settings.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["workbench.kind"] == "sweep" and parent.info.status == "FINISHED"
    children = client.search_runs([result.experiment_id], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    assert sorted(c.info.run_name for c in children) == sorted(v.variant.name for v in result.variants)
    child = client.get_run(k4.run_id)
    assert child.data.params["chunker.strategy"] == "markdown" and child.data.params["retrieval.k"] == "4"
    assert child.data.tags["workbench.generates"] == "false" and "workbench.prompt_hash" not in child.data.tags
    assert child.data.metrics["mrr"] == pytest.approx(k4.metrics["mrr"])
    assert {"hit_at_k", "recall_at_k", "mrr"} <= set(child.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(result.parent_run_id)}
    assert {"comparison.json", "leaderboard.json"} <= artifacts
    report = wb.compare([k1.run_id, k4.run_id], baseline=k1.run_id, metrics=["recall_at_k"], tracking_uri=wb_settings.tracking_uri)
    assert report.row(k4.run_id, "recall_at_k")["n"] == k4.metrics["questions"] - sum(1 for r in k4.records if not r.case.source_ids)
    from workbench.cli import main

    assert main(["--tracking-uri", wb_settings.tracking_uri, "list", "retrieval-lab"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "k4-similarity" in line]
    assert listed and all("token_f1" not in line and "hit_at_k=" in line for line in listed)  # not token_f1=nan


def test_a_retrieval_sweep_reuses_the_indexes_a_full_sweep_built(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    store = CountingIndexStore()
    spec = make_spec(chunkers=CHUNKERS)
    full = wb.run(spec, settings=wb_settings, models=fake_models, index_store=store, limit=2, progress=False)
    assert len(store.builds) == 2 and all(v.variant.generates for v in full.variants)
    retrieval = wb.run(spec, generate=False, settings=wb_settings, models=fake_models, index_store=store, limit=2, progress=False)
    assert len(store.builds) == 2  # both indexes opened, none rebuilt
    assert {v.status for v in retrieval.variants} == {"FINISHED"} and not any(v.variant.generates for v in retrieval.variants)


def test_an_embedder_of_another_identity_builds_its_own_index(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # one model string, other vectors (a hosted embedding model behind another OPENAI_BASE_URL): its queries must not
    # search an index of the first one's vectors
    store = CountingIndexStore()
    for dim in (64, 32):
        result = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=store, progress=False, limit=2,
                        models={MINILM_ID: HashingEmbedder(dim=dim, model_id=MINILM_ID)})
        assert {v.status for v in result.variants} == {"FINISHED"}
    assert len(set(store.builds)) == 2
    again = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=store, progress=False, limit=2,
                   models={MINILM_ID: HashingEmbedder(dim=32, model_id=MINILM_ID)}, fresh=True)
    assert {v.status for v in again.variants} == {"FINISHED"} and len(store.builds) == 2  # the same vectors: opened


def test_a_sweep_that_opens_an_index_does_not_chunk_the_corpus_again(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # its chunk statistics were computed by chunking the corpus again and counting every chunk's tokens: 1.3 s for the
    # Python reference at recursive 1000/100 and 3.5 s at token 128/16, on every sweep that opened the index
    class Counting(HashingEmbedder):
        counted: list[str] = []

        def count_tokens(self, text: str) -> int:
            Counting.counted.append(text)
            return super().count_tokens(text)

    store = MemoryIndexStore()
    embedder = Counting(model_id=MINILM_ID)
    first = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=store, progress=False, models={MINILM_ID: embedder}, limit=2)
    built = len(Counting.counted)
    again = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=store, progress=False, models={MINILM_ID: embedder}, fresh=True,
                   limit=2)
    questions = [c.question for c in again.dataset.cases]  # each sweep counts its questions' tokens (question_notes)
    assert built > len(questions) and Counting.counted[built:] == questions
    assert again.variants[0].chunk_stats == first.variants[0].chunk_stats and first.variants[0].chunk_stats.count > 0


class _SearchCounting(MemoryIndexStore):
    """Counts the searches of the indexes it builds or opens (each a pass over a whole Chroma index)."""

    def __init__(self) -> None:
        super().__init__()
        self.searches: list[int] = []

    def open(self, key: str):  # type: ignore[no-untyped-def]
        index = super().open(key)
        return None if index is None else self._counted(index)

    def build(self, key, chunks, vectors, *, stats=None, lineage=None):  # type: ignore[no-untyped-def]
        return self._counted(super().build(key, chunks, vectors, stats=stats, lineage=lineage))

    def _counted(self, index):  # type: ignore[no-untyped-def]
        searches, search = self.searches, index.search

        class Counted:
            key, stats = index.key, index.stats

            def __len__(self) -> int:
                return len(index)

            def search(self, vector, k, *, with_vectors=False):  # type: ignore[no-untyped-def]
                searches.append(k)
                return search(vector, k, with_vectors=with_vectors)

        return Counted()


def test_the_retrieval_settings_of_an_index_search_it_once_per_question(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # each setting searched the index for every question: a Chroma search is a pass over every chunk (exhaustive, for
    # builds to agree), so 500 questions with a similarity and an MMR setting over 40,000 chunks took 150 s, not 75
    settings = (RetrievalSpec(k=2), RetrievalSpec(k=4), RetrievalSpec(k=3, search="mmr", fetch_k=6), RetrievalSpec(k=2, search="mmr", fetch_k=5))
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    store, tracker = _SearchCounting(), wb.tracking.MemoryTracker()
    shared = wb.run(make_spec(retrieval=settings), generate=False, settings=wb_settings, index_store=store, progress=False, models=models,
                    tracker=tracker, limit=8)
    assert store.searches == [6] * 8  # the widest of the four, once per question
    for setting, variant in zip(settings, shared.variants, strict=True):  # what each setting retrieves searching alone
        alone = wb.run(make_spec(retrieval=(setting,)), generate=False, settings=wb_settings, index_store=store, progress=False, models=models,
                       tracker=tracker, fresh=True, limit=8)
        assert [r.hits for r in variant.records] == [r.hits for r in alone.variants[0].records]
        assert all(h.vector is None for r in variant.records for h in r.hits)


def test_a_search_that_fails_fails_the_variants_of_its_index_not_the_sweep(wb_settings) -> None:  # type: ignore[no-untyped-def]
    class Failing(_SearchCounting):
        def _counted(self, index):  # type: ignore[no-untyped-def]
            counted = super()._counted(index)
            search = counted.search

            def failing(vector, k, *, with_vectors=False):  # type: ignore[no-untyped-def]
                if len(self.searches) == 3:
                    raise RuntimeError("index files gone")
                return search(vector, k, with_vectors=with_vectors)

            counted.search = failing
            return counted

    settings = (RetrievalSpec(k=2), RetrievalSpec(k=3, search="mmr", fetch_k=6))
    result = wb.run(make_spec(retrieval=settings), generate=False, settings=wb_settings, index_store=Failing(), progress=False,
                    models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, tracker=wb.tracking.MemoryTracker(), limit=6)
    assert [v.status for v in result.variants] == ["FAILED", "FAILED"]
    assert all("retrieval failed: RuntimeError: index files gone" in (v.outcome.error or "") for v in result.variants)


def test_a_broken_index_fails_its_variants_not_the_sweep(wb_settings) -> None:  # type: ignore[no-untyped-def]
    class Broken(MemoryIndexStore):
        def build(self, key, chunks, vectors, *, stats=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

    tracker = wb.tracking.MemoryTracker()
    result = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=Broken(), tracker=tracker, progress=False,
                    models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert [v.status for v in result.variants] == ["FAILED"]
    assert "disk full" in (result.variants[0].outcome.error or "")
    assert tracker.runs[result.parent_run_id].status == "FAILED"


def test_a_retrieval_sweep_over_questions_without_labelled_sources_says_it_scored_nothing(wb_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # every variant FINISHED with no hit_at_k, recall_at_k, precision_at_k or mrr at all, and nothing said why
    (tmp_path / "d.jsonl").write_text('{"id": "q1", "question": "How many days of leave?"}\n', encoding="utf-8")
    spec = make_spec()
    spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"path": str(tmp_path / "d.jsonl")})})
    result = wb.run(spec, generate=False, settings=wb_settings, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(),
                    progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert result.variants[0].status == "FINISHED" and not set(RETRIEVAL_METRICS) & set(result.variants[0].metrics) - {"context_injection"}
    assert result.notes == (f"no question of {tmp_path / 'd.jsonl'} has labelled source_ids, so no retrieval metric was computed "
                            "(hit_at_k, recall_at_k, precision_at_k and mrr compare the retrieved chunks with them) — give each question "
                            "the ids of the corpus documents that answer it",)
    labelled = wb.run(make_spec(), generate=False, settings=wb_settings, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(),
                      progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, limit=2)
    assert labelled.label_notes == ()


def test_a_labelled_document_with_a_copy_under_another_id_is_said_to_skew_retrieval_metrics(wb_settings) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    # a wiki export holding one page twice ('leave' and 'Old/leave (1)', CRLF in one): the copies are retrieved alike, so the
    # question labelled 'leave' scored hit 0 when the copy came first, and nothing said why
    docs = [{"id": "leave", "text": "# Leave\n\nYou get 25 days of annual leave."},
            {"id": "Old/leave (1)", "text": "# Leave\r\n\r\nYou get 25 days of annual leave.\r\n"},
            {"id": "travel", "text": "Book economy flights two weeks ahead."}]
    questions = pd.DataFrame({"question": ["How many days of leave?", "How early to book?"], "source_ids": [["leave"], ["travel"]]})

    def sweep(dataset: pd.DataFrame) -> wb.SweepResult:
        return wb.run(make_spec(retrieval=ONE), dataset=dataset, corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                      tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})

    assert sweep(questions).notes == ("corpus 'documents': labelled documents have copies under other ids ('leave' = 'Old/leave (1)'): a "
                                      "question labelled with one copy scores no hit, or a lower rank, when retrieval finds another — "
                                      "remove the copies, or label every copy",)
    both = questions.assign(source_ids=[["leave", "Old/leave (1)"], ["travel"]])  # every copy labelled: the metrics are right
    assert sweep(both).notes == ()


def test_questions_longer_than_the_embedding_model_reads_are_named(wb_settings) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    # a question pasting a 300-word error log was embedded by its first 254 tokens only, so what it asked at its end never
    # chose a chunk, and nothing said so (chunks that long are counted in chunk_stats.json and named)
    long = " ".join(["The build log says:"] + ["frame"] * 300 + ["How many days of leave?"])
    questions = pd.DataFrame({"question": ["How early to book?", long], "source_ids": [["travel"], ["leave"]]})
    docs = [{"id": "leave", "text": "You get 25 days of annual leave."}, {"id": "travel", "text": "Book economy flights two weeks ahead."}]
    result = wb.run(make_spec(retrieval=ONE), dataset=questions, corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                    tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert result.notes == (f"{MINILM_ID}: 1 of 2 questions are longer than the 254 tokens the embedding model reads (the first at "
                            "dataframe: row 1); retrieval searched with their beginning only — shorten them, or put what they ask first",)
    short = wb.run(make_spec(retrieval=ONE), dataset=questions.head(1), corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                   tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert short.notes == ()


def test_html_pages_in_the_corpus_are_said_to_be_indexed_with_their_markup(wb_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # a Confluence export's pages were chunked with their <nav>, <script> and <style> and embedded as text, silently
    (tmp_path / "wiki" / "Team Space").mkdir(parents=True)
    (tmp_path / "wiki" / "Team Space" / "Expenses.html").write_text(
        "<div><nav>Home | Spaces</nav><h1>Expenses</h1><p>Submit receipts within 30 days.</p><script>track()</script></div>", encoding="utf-8")
    (tmp_path / "wiki" / "leave.htm").write_text("<!-- saved -->\n<!DOCTYPE html>\n<html><body><p>27 days of leave.</p></body></html>",
                                                 encoding="utf-8")
    (tmp_path / "wiki" / "widgets.md").write_text("# Widgets\n\n```html\n<html><script>x()</script></html>\n```\n", encoding="utf-8")
    spec = make_spec(corpus=CorpusRef(path=str(tmp_path / "wiki"), glob="**/*"), retrieval=ONE)
    questions = [{"question": "When are receipts due?", "source_ids": ["Team Space/Expenses"]}]

    def notes(corpus: object) -> tuple[str, ...]:
        import pandas as pd

        return wb.run(spec, dataset=pd.DataFrame(questions), corpus=corpus, generate=False, settings=wb_settings,
                      index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(), progress=False,
                      models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}).notes

    assert notes(None) == ()  # a folder's .html and .htm pages are read as their visible text, which holds no markup
    in_memory = [{"id": "Team Space/Expenses", "text": "<HTML lang='en'><p>Receipts within 30 days.</p></HTML>"}, {"id": "w", "text": "Widgets."}]
    assert notes(in_memory)[0].startswith("corpus 'documents': HTML pages, 1 of 2 documents ('Team Space/Expenses'):")
    assert notes([{"id": "Team Space/Expenses", "text": "Receipts: <b>30 days</b>."}, {"id": "w", "text": "Widgets."}]) == ()


@pytest.mark.timeout(60)
def test_a_page_opening_with_many_comments_is_read_in_one_pass(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # a markdown page opening with 40 comment lines (lint switches, a licence header): telling whether it is an HTML page
    # tried 2**40 ways to read its comments, and the notes after the sweep never came
    comments = "".join(f"<!-- markdownlint-disable MD{n:03} -->\n" for n in range(40))
    docs = [{"id": "leave", "text": comments + "# Leave\n\nYou get 25 days."}, {"id": "page", "text": comments + "<html><p>Hi</p></html>"}]
    import pandas as pd

    questions = pd.DataFrame({"question": ["How many days?"], "source_ids": [["leave"]]})
    result = wb.run(make_spec(), dataset=questions, corpus=docs,
                    generate=False, settings=wb_settings, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(),
                    progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert result.markup_notes[0].startswith("corpus 'documents': HTML pages, 1 of 2 documents ('page'):")


def test_progress_events_count_indexes_and_scoring(wb_settings, fake_models) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(chunkers=(ChunkerSpec(strategy="markdown", size=600, overlap=0), ChunkerSpec(strategy="sentence", size=400, overlap=0)))
    events: list[wb.ProgressEvent] = []
    wb.run(spec, settings=wb_settings, models=fake_models, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(),
           limit=2, progress=False, on_event=events.append)
    assert [(e.done, e.total) for e in events if e.kind == "index_started"] == [(0, 2), (1, 2)]
    scored = [(e.done, e.total, e.variant.name) for e in events if e.kind == "question_scored" and e.variant is not None]
    assert [(d, t) for d, t, _ in scored] == [(1, 2), (2, 2), (1, 2), (2, 2)]
    kinds = [e.kind for e in events]
    assert kinds.index("question_scored") > kinds.index("question_done") and kinds.index("question_scored") < kinds.index("variant_done")
    # then its traces are stored (the tracker says how many so far), before the variant is done
    logged = [(e.done, e.total) for e in events if e.kind == "question_logged"]
    assert logged == [(2, 2), (2, 2)] and kinds.index("question_logged") < kinds.index("variant_done")


def test_an_index_an_older_workbench_built_is_not_opened_after_the_chunkers_changed(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # indexes outlive upgrades (.workbench/indexes): one kept under the key the previous chunkers gave it holds chunks
    # these chunkers no longer make, and a sweep that opened it would retrieve them
    import hashlib
    import json

    embedder = HashingEmbedder(model_id=MINILM_ID)
    spec = make_spec(chunkers=(ChunkerSpec(strategy="sentence", size=300, overlap=0),), retrieval=(RetrievalSpec(k=1),))
    corpus = wb.load_corpus(ROOT / "datasets" / "handbook", glob="*.md")
    before = {"chunker": spec.chunkers[0].model_dump(mode="json"), "embedding": MINILM_ID, "corpus": f"{corpus.hash}:{embedder.identity}"}
    old_key = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]  # the key without a chunking revision
    store = MemoryIndexStore()
    stale = Chunk(id="benefits#0-stale", doc_id="benefits", text="a chunk cut the old way", start=0, end=23)
    store.build(old_key, [stale], embedder.embed([stale.text]))
    result = wb.run(spec, generate=False, settings=wb_settings, index_store=store, progress=False, models={MINILM_ID: embedder})
    hits = [h.chunk.id for r in result.variants[0].records for h in r.hits]
    assert hits and stale.id not in hits


def test_a_corpus_whose_words_the_embedding_model_does_not_know_is_named(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # all-MiniLM-L6-v2's vocabulary is English: a third of a Japanese corpus's tokens are its one [UNK] token, so chunks
    # that differ in those words embed alike; the sweep scored retrieval on such vectors and said nothing
    import pandas as pd

    japanese = [{"id": "休暇", "text": "従業員は年間二十五日の有給休暇を取得できます。"}, {"id": "出張", "text": "出張の際は事前に申請書を提出します。"}]
    english = [{"id": "leave", "text": "Employees get twenty-five days of paid leave."}, {"id": "travel", "text": "Submit a form before travel."}]
    notes = {}
    for name, docs in (("japanese", japanese), ("english", english)):
        questions = pd.DataFrame({"question": ["?"], "source_ids": [[docs[0]["id"]]]})
        result = wb.run(make_spec(), dataset=questions, corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                        tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
        notes[name] = result.vocabulary_notes
        assert all(note in result.notes for note in notes[name])
    (note,) = notes["japanese"]
    assert note.startswith(f"corpus 'documents' / {MINILM_ID}: ") and "% of its tokens are unknown to the embedding model" in note
    assert notes["english"] == ()


def test_the_unknown_share_of_a_large_corpus_is_measured_on_a_sample(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the share was measured by tokenising the whole corpus when notes were read, after every sweep, a warm re-run too:
    # half a second per MB (a 100 MB corpus, a minute) for a figure shown to the percent
    import dataclasses

    import pandas as pd

    docs = [{"id": "休暇", "text": "従業員は年間二十五日の有給休暇を取得できます。"}, {"id": "出張", "text": "出張の際は事前に申請書を提出します。"}]
    result = wb.run(make_spec(), dataset=pd.DataFrame({"question": ["?"], "source_ids": [["休暇"]]}), corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                    tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    page = "Employees get twenty-five days of paid leave. 従業員は年間二十五日の有給休暇を取得できます。\n" * 2000
    large = wb.Corpus("large", tuple(wb.Document(f"page-{i}", page + str(i)) for i in range(60)))  # 10 MB
    from workbench.models import _registry

    measured: list[int] = []
    real = _registry.embedder_unknown_share
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("workbench.results._sweep.embedder_unknown_share", lambda model, sample: measured.append(sum(map(len, sample))) or real(model, sample))
        (note,) = dataclasses.replace(result, corpus=large).vocabulary_notes
    assert note.startswith(f"corpus 'large' / {MINILM_ID}: ")
    assert len(measured) == 1 and measured[0] <= 1_000_000 < sum(len(d.text) for d in large.documents)  # a sample, not all 10 MB


def test_a_sweep_result_measures_the_vocabulary_once_and_keeps_no_corpus_alive_after_it(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the share was cached by the module under every text of the corpus: the last four corpora a notebook swept stayed
    # in its kernel after their results were gone (an edited 200 MB export swept again and again: 800 MB)
    import dataclasses
    import sys

    import pandas as pd

    from workbench.models import _registry

    docs = [{"id": "休暇", "text": "従業員は年間二十五日の有給休暇を取得できます。"}, {"id": "出張", "text": "出張の際は事前に申請書を提出します。"}]
    result = wb.run(make_spec(), dataset=pd.DataFrame({"question": ["?"], "source_ids": [["休暇"]]}), corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                    tracker=wb.tracking.MemoryTracker(), progress=False, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    texts = ["Employees get twenty-five days of paid leave. 従業員は年間二十五日の有給休暇を取得できます。\n" * 9000 + str(i) for i in range(2)]  # 1.3 MB
    held = [sys.getrefcount(t) for t in texts]
    large = dataclasses.replace(result, corpus=wb.Corpus("large", tuple(wb.Document(f"page-{i}", t) for i, t in enumerate(texts))))
    measured = []
    real = _registry.embedder_unknown_share
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("workbench.results._sweep.embedder_unknown_share", lambda model, sample: measured.append(model) or real(model, sample))
        notes = [large.vocabulary_notes for _ in range(3)]
    assert notes[0] == notes[1] == notes[2] and notes[0][0].startswith(f"corpus 'large' / {MINILM_ID}: ")
    assert measured == [MINILM_ID]  # once for the result, however often its notes are read
    del large
    assert [sys.getrefcount(t) for t in texts] == held  # nothing holds the documents' texts once the result is gone


def test_sweeps_in_one_kernel_over_several_projects_leave_no_index_store_open(tmp_path: Path, empty_store: Path) -> None:
    # a notebook kernel sweeping one project after another (another WORKBENCH_HOME, another root) kept every project's
    # Chroma open until it ended: 7 files and 6 threads of Chroma's Rust library more for each
    threads = []
    for n in range(2):
        root = tmp_path / f"project{n}"
        cfg = settings(root=root, tracking_uri=copy_store(empty_store, root))
        result = wb.run(make_spec(), generate=False, settings=cfg, models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, limit=2,
                        progress=False)
        assert result.status == "FINISHED" and (root / ".workbench" / "indexes").is_dir()
        gc.collect()  # what only waits for the garbage collector is not held
        assert open_files_under(root / ".workbench" / "indexes") == []
        threads.append(len(os.listdir("/proc/self/task")))
    assert threads[1] <= threads[0], f"{threads[1] - threads[0]} threads more after a sweep in a second project"


class _CountedText(str):
    """A document's text that counts how often it is split into all its words (respaced whole)."""

    splits = 0

    def split(self, sep=None, maxsplit=-1):  # type: ignore[no-untyped-def, override]
        if maxsplit < 0:
            type(self).splits += 1
        return super().split(sep, maxsplit)


def test_only_documents_that_may_be_copies_of_a_labelled_one_are_respaced_to_compare_them(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # every text of the corpus was respaced to find copies of the labelled documents, on every sweep's notes: 4 s for a
    # 95 MB documentation export, with a second copy of it held meanwhile
    import dataclasses

    import pandas as pd

    docs = [{"id": "leave", "text": "# Leave\n\nYou get 25 days of annual leave."}, {"id": "travel", "text": "Book economy flights."}]
    result = wb.run(make_spec(), dataset=pd.DataFrame({"question": ["How many days?"], "source_ids": [["leave"]]}), corpus=docs, generate=False,
                    settings=wb_settings, index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(), progress=False,
                    models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    pages = [wb.Document(f"page-{i}", _CountedText(f"# Page {i}\n\nIt says {i} things about topic {i % 7}.")) for i in range(300)]
    copy = wb.Document("Old/leave (1)", _CountedText("# Leave\r\n\r\nYou get 25  days of annual leave.\r\n"))
    leave = wb.Document("leave", _CountedText("# Leave\n\nYou get 25 days of annual leave."))
    corpus = wb.Corpus("export", (leave, *pages[:150], copy, *pages[150:]))
    _CountedText.splits = 0
    notes = dataclasses.replace(result, corpus=corpus).copy_notes
    assert notes == ("corpus 'export': labelled documents have copies under other ids ('leave' = 'Old/leave (1)'): a question labelled "
                     "with one copy scores no hit, or a lower rank, when retrieval finds another — remove the copies, or label every copy",)
    assert _CountedText.splits == 2  # the labelled document and its copy, not the 300 pages


def test_a_sweep_closes_the_answer_cache_it_opened(wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the cache was left to the garbage collector (a cycle held it), which a kernel with a large heap runs seldom:
    # 6 more files open (cache.db and its counters, with their -wal and -shm) for every sweep until then
    embedder = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    gc.disable()
    try:
        for _ in range(2):
            wb.run(make_spec(), generate=False, settings=wb_settings, models=embedder, limit=2, progress=False)
            assert open_files_under(wb_settings.cache_dir) == []
    finally:
        gc.enable()


@pytest.mark.integration
def test_an_index_minilm_built_under_another_torch_is_not_opened_nor_its_runs_reused(wb_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the index cache and the reuse of finished runs were keyed on "local:all-minilm-l6-v2:sentence-transformers:
    # normalized" alone: after a torch, transformers or sentence-transformers upgrade a sweep searched the corpus's old
    # vectors with its questions' new ones, and reused runs that retrieved with them
    import importlib.metadata

    from workbench.models._versions import installed_versions

    real = importlib.metadata.version
    store = CountingIndexStore()
    spec = make_spec(models=(), prompts=(), chunkers=(CHUNKERS[0],), dataset=make_spec().dataset.model_copy(update={"limit": 3}))

    def sweep(torch: str | None) -> wb.SweepResult:
        installed_versions.cache_clear()  # versions are read once per process: this one "upgrades" torch in between
        monkeypatch.setattr(importlib.metadata, "version", lambda name: torch if name == "torch" and torch else real(name))
        try:
            return wb.run(spec, settings=wb_settings, index_store=store, progress=False)
        finally:
            monkeypatch.undo()
            installed_versions.cache_clear()

    first = sweep(None)
    assert len(store.builds) == 1 and {v.status for v in first.variants} == {"FINISHED"}
    upgraded = sweep("99.0.0")
    assert len(set(store.builds)) == 2  # its own index, embedded by the "new" torch
    assert [v.reused_from for v in upgraded.variants] == [None]
    again = sweep(None)
    assert len(store.builds) == 2 and [v.reused_from for v in again.variants] == [first.variants[0].run_id]


def test_a_k_that_retrieves_every_chunk_of_its_index_is_named(wb_settings) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    # k: 10 on a corpus of a few chunks retrieved the whole index for every question: hit_at_k and recall_at_k were 1
    # whatever the embedding model, and the leaderboard ranked that setting first without a word
    docs = [{"id": "leave", "text": "You get 25 days of annual leave."}, {"id": "travel", "text": "Book economy flights two weeks ahead."}]
    questions = pd.DataFrame({"question": ["How many days of leave?", "How early to book?"], "source_ids": [["leave"], ["travel"]]})
    retrieval = (RetrievalSpec(k=1), RetrievalSpec(k=2, search="mmr", fetch_k=3), RetrievalSpec(k=10))
    result = wb.run(make_spec(retrieval=retrieval), dataset=questions, corpus=docs, generate=False, settings=wb_settings,
                    index_store=MemoryIndexStore(), tracker=wb.tracking.MemoryTracker(), progress=False,
                    models={MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    assert [v.chunk_stats.count for v in result.variants] == [2, 2, 2]
    assert result.notes == tuple(
        f"markdown-600/0|{label}: k {k} is not fewer than the 2 chunks of its index, so every question retrieved all of them, "
        "whatever its embedding and search: its hit_at_k, recall_at_k and precision_at_k measure the corpus, not the retrieval (only "
        "mrr still ranks it) — use a k below 2, or smaller chunks" for label, k in (("k2-mmr", 2), ("k10-similarity", 10)))



def test_questions_are_embedded_as_search_queries_where_the_provider_embeds_those_otherwise(wb_settings, google_embeddings) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    # Google's embeddings embed a search query for the RETRIEVAL_QUERY task (LangChain's embed_query) and a document for
    # RETRIEVAL_DOCUMENT: the questions went through embed_documents, as documents, so a google_genai embedding model
    # retrieved worse in the sweep than in any LangChain retriever, and the comparison of embedders was skewed
    fake = google_embeddings
    docs = [{"id": "leave", "text": "You get 25 days of annual leave."}, {"id": "travel", "text": "Book economy flights two weeks ahead."}]
    questions = pd.DataFrame({"question": ["How many days of leave?", "How early to book flights?"], "source_ids": [["leave"], ["travel"]]})
    spec = make_spec(retrieval=(RetrievalSpec(k=1, embedding="google_genai:text-embedding-004"),))
    result = wb.run(spec, dataset=questions, corpus=docs, generate=False, settings=wb_settings, index_store=MemoryIndexStore(),
                    tracker=wb.tracking.MemoryTracker(), progress=False)
    assert [v.status for v in result.variants] == ["FINISHED"] and result.variants[0].metrics["hit_at_k"] == 1.0
    asked = list(questions["question"])
    assert sorted(t for how, t in fake.ASKED if how == "embed_query") == sorted(asked)
    assert not [t for how, t in fake.ASKED if how == "embed_documents" and t in asked]
    assert {t for how, t in fake.ASKED if how == "embed_documents"} == {d["text"] for d in docs}  # the chunks, as documents
