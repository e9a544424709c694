"""ChunkExplorer: for a chunker config, the chunk count, a length histogram and where boundaries fall in a document;
with an experiment, the retrieval metrics of the chunker as set (a retrieval-only sweep of ``wb.run``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
from pydantic import ValidationError

import workbench as wb
from workbench.config import Settings
from workbench.datasets import page_word, pages_between
from workbench.models import MINILM_ID, Embedder, embedder_input_tokens, load_embedder
from workbench.pipeline import (
    Chunk,
    ChunkStats,
    LengthBin,
    Segment,
    chunk_corpus,
    chunk_segments,
    chunk_stats,
    count_truncated,
    length_histogram,
)
from workbench.redaction import Finding, find_secrets
from workbench.runner import load_spec_corpus
from workbench.spec import ChunkerSpec
from workbench.widgets._common import STYLE, BackgroundJob, error_html, esc, kept_texts

_MAX_DOC_CHARS = 30_000
# how far past the characters shown a document is searched for secrets: far enough to find whole a key that starts among
# them (a PEM private key block: some 3,300 characters); searching all of a 20 MB changelog took a minute and a half
_SECRET_MARGIN = 16_384
# the chunks of the last settings shown and their token counts, so moving a slider back neither cuts the corpus again
# (the pipeline keeps the chunks of smaller corpora only) nor counts every chunk's tokens again (most of a minute for
# 40,000 chunks); bounded, the current setting's always kept
_KEPT_SETTINGS = 4
_KEPT_CHARS = 64_000_000  # characters of chunk text, all kept settings together (some 64 MB of English text)


@dataclass(frozen=True)
class _Chunking:
    """What the explorer shows of one chunker setting: its chunks, their token counts (chunk text -> tokens; empty when
    the embedding model's limit is unknown), their stats and histogram, and the characters of their text."""

    chunks: tuple[Chunk, ...]
    counts: dict[str, int]
    stats: ChunkStats
    histogram: tuple[LengthBin, ...]
    chars: int


def _with_chunker(experiment: wb.ExperimentSpec, chunker: ChunkerSpec) -> wb.ExperimentSpec:
    """The experiment with this chunker alone, validated as a whole (a token chunker must fit its embedding models).

    Raises:
        SpecError: one line naming what does not fit.
    """
    data = {**experiment.model_dump(mode="json"), "chunkers": [chunker.model_dump(mode="json")]}
    return wb.ExperimentSpec.from_dict(data, base_dir=experiment.base_dir, source="chunk explorer")


def _shown(text: str, start: int, end: int, secrets: Sequence[Finding]) -> str:
    """``text[start:end]`` with the secrets found in the whole text replaced by their marker, the marker at the piece
    where a secret begins: redacting each piece alone missed a key that a chunk boundary cuts in two (each half too
    short to look like a key), while the pieces, drawn side by side, showed it whole."""
    out, pos = [], start
    for secret in secrets:  # in order, not overlapping
        if secret.end <= start or secret.start >= end:
            continue
        out.append(text[pos : max(pos, secret.start)])
        if secret.start >= start:
            out.append(secret.marker)
        pos = min(secret.end, end)
    out.append(text[pos:end])
    return "".join(out)


def _on_pages(starts: Sequence[int] | None, start: int, end: int, word: str = "page") -> str:
    """' · page 2' or ' · pages 2-3': where a stretch of a paged document (a PDF's) lies, its pages called ``word`` (a
    deck's: slides, see ``page_word``); '' in another document."""
    pages = pages_between(starts, start, end) if starts else None
    if pages is None:
        return ""
    return f" · {word} {pages[0]}" if pages[0] == pages[1] else f" · {word}s {pages[0]}-{pages[1]}"


# the wb.run arguments a "Score retrieval" sweep sets itself: a retrieval-only sweep, its progress shown in the widget
_OWN_RUN_OPTIONS = ("generate", "progress", "on_event", "stop", "stop_now")


def _check_run_options(options: dict[str, Any]) -> None:
    """Refuse a ``run_options`` key the explorer sets itself or ``wb.run`` does not take, naming it: either was a
    TypeError shown in the widget once Score retrieval was pressed.

    Raises:
        WorkbenchError: one line naming the key and what to do.
    """
    import difflib
    import inspect

    taken = [name for name in inspect.signature(wb.run).parameters if name != "experiment" and name not in _OWN_RUN_OPTIONS]
    for key in options:
        if key in _OWN_RUN_OPTIONS:
            raise wb.WorkbenchError(f"run_options: '{key}' is set by the explorer itself (a retrieval-only sweep, its progress shown "
                                    "here, Cancel to stop it) — leave it out")
        if key not in taken:
            close = difflib.get_close_matches(str(key), taken, n=1)
            meant = f"did you mean '{close[0]}'?" if close else f"it takes {', '.join(taken)}"
            raise wb.WorkbenchError(f"run_options: wb.run takes no '{key}' — {meant}")


def _check_same_corpus(shown: wb.Corpus, experiment: wb.ExperimentSpec, settings: Settings | None) -> None:
    """Scores are only worth showing beside the chunks when they were retrieved from the corpus on screen.

    Raises:
        WorkbenchError: the experiment retrieves from another corpus (another folder, or the same folder read with
            another glob).
    """
    if experiment.corpus is None:  # its documents are given in memory: it retrieves from the ones shown
        return
    with kept_texts(settings) as texts:
        scored = load_spec_corpus(experiment, texts=texts)
    if scored.hash != shown.hash and scored.ids == shown.ids:  # its files were edited since the explorer read them
        # its text, or where a PDF's pages start (a blank cover page added: the same text, the pages one on)
        changed = [d.id for d in scored.documents if d.text != shown.get(d.id).text or scored.page_starts.get(d.id) != shown.page_starts.get(d.id)]
        raise wb.WorkbenchError(
            f"corpus '{scored.name}' changed since the explorer read it ({', '.join(changed[:3])}{', …' if len(changed) > 3 else ''}), so "
            "'Score retrieval' would score chunks you do not see — create the ChunkExplorer again to chunk what it holds now"
        )
    if scored.hash != shown.hash:
        ref = experiment.corpus
        source = ref.builtin or f"{experiment.resolve(ref.path or '')} with glob='{ref.glob}'" + (f", exclude={list(ref.exclude)}" if ref.exclude else "")
        raise wb.WorkbenchError(
            f"experiment '{experiment.name}' retrieves from corpus '{scored.name}' ({len(scored)} documents), not from the "
            f"'{shown.name}' shown here ({len(shown)} documents), so 'Score retrieval' would score chunks you do not see "
            f"— pass the experiment's corpus: {source}"
        )


class ChunkExplorer(w.VBox):
    """See what a chunker does to a corpus before indexing it.

    Args:
        corpus: a ``Corpus``, ``"python-reference"`` or a folder of text, markdown, PDF, HTML or Word files (``glob`` picks them).
        chunker: the config to start from (default: recursive 800/80).
        document: the document to show first (default: the first one).
        embedding: the embedding model whose tokenizer the ``token`` strategy counts with; the summary names the chunks
            longer than it reads (their ends are never embedded, so retrieval cannot find them). Default: the
            experiment's (its first retrieval setting's), else MiniLM.
        glob: which files of a folder corpus to read.
        exclude: files of a folder corpus the glob picks that are not documents, as patterns like ``glob``'s.
        experiment: an experiment whose questions score the chunker as set: "Score retrieval" runs a retrieval-only
            sweep (``wb.run(..., generate=False)``) of this chunker with the experiment's retrieval settings in the
            background (Cancel calls it off, also while it waits for a RunPanel's sweep to end), logged to MLflow like
            any sweep and sharing its indexes with full sweeps. One without a
            corpus retrieves from the corpus shown (its questions in memory go in ``run_options={"dataset": df}``).
        run_options: extra keyword arguments for ``wb.run`` (e.g. ``settings``, or ``models`` in tests); not those the
            explorer sets itself (``generate``, ``progress``, ``on_event``, ``stop``, ``stop_now``).

    Raises:
        WorkbenchError: a ``run_options`` key the explorer sets or ``wb.run`` does not take, named.
    """

    def __init__(
        self,
        corpus: wb.Corpus | str | Path,
        chunker: ChunkerSpec | None = None,
        *,
        document: str | None = None,
        embedding: str | None = None,
        glob: str = "**/*.md",
        exclude: Sequence[str] = (),
        experiment: wb.ExperimentSpec | None = None,
        run_options: dict[str, Any] | None = None,
    ) -> None:
        _check_run_options(dict(run_options or {}))
        settings = (run_options or {}).get("settings")
        if not isinstance(corpus, wb.Corpus):
            with kept_texts(settings) as texts:
                corpus = wb.load_corpus(corpus, glob=glob, exclude=exclude, texts=texts)
        self.corpus = corpus
        if experiment is not None:
            _check_same_corpus(self.corpus, experiment, settings)
        self._embedding = embedding or (experiment.retrieval[0].embedding if experiment is not None and experiment.retrieval else MINILM_ID)
        self._embedder: Embedder | None = None
        self._secrets: dict[str, tuple[Finding, ...]] = {}
        self._kept: OrderedDict[ChunkerSpec, _Chunking] = OrderedDict()  # the last settings shown, the newest last
        start = chunker or ChunkerSpec(strategy="recursive")
        self.chunks: list[Chunk] = []
        self.stats: ChunkStats | None = None
        self.histogram: list[LengthBin] = []
        self.segments: list[Segment] = []
        self.strategy = w.Dropdown(options=["recursive", "token", "markdown", "sentence"], value=start.strategy, description="strategy")
        self.size = w.IntSlider(value=start.size, min=16, max=max(4000, start.size), step=16, description="size", continuous_update=False)
        self.overlap = w.IntSlider(value=start.overlap, min=0, max=max(1000, start.overlap), step=8, description="overlap", continuous_update=False)
        ids = [d.id for d in self.corpus.documents]
        if not ids:  # a Corpus built in code (e.g. filtered down to nothing): there is nothing to chunk or show
            raise wb.WorkbenchError(f"corpus '{self.corpus.name}' has no documents — give the explorer a corpus with some")
        if document is not None and document not in ids:  # not another document shown under the name asked for
            raise wb.WorkbenchError(f"document '{document}' is not in the corpus '{self.corpus.name}' — its documents: "
                                    f"{', '.join(ids[:10])}{', …' if len(ids) > 10 else ''}")
        self.document = w.Dropdown(options=ids, value=document or ids[0], description="document", layout=w.Layout(width="420px"))
        self.summary = w.HTML()
        self.summary.add_class("wb-chunk-summary")
        self.hist = w.HTML()
        self.hist.add_class("wb-chunk-histogram")
        self.boundaries = w.HTML()
        self.boundaries.add_class("wb-chunk-boundaries")
        self.experiment = experiment
        self._run_options = dict(run_options or {})
        self.sweep: wb.SweepResult | None = None
        self._job = BackgroundJob("workbench-score-retrieval")
        self.score_button = w.Button(description="Score retrieval", icon="bullseye", disabled=experiment is None,
                                     tooltip="a retrieval-only sweep of this chunker on the experiment's questions")
        self.score_button.add_class("wb-score-retrieval")
        # a sweep queued behind a RunPanel's (one sweep at a time per kernel) waited for it with no way to call it off
        self.cancel_button = w.Button(description="Cancel", icon="times", disabled=True, tooltip="stop the retrieval sweep")
        self.cancel_button.add_class("wb-cancel-scoring")
        self.cancel_button.on_click(lambda _b: self.stop_scoring())
        self._stop = threading.Event()
        self.scores = w.HTML()
        self.scores.add_class("wb-chunk-scores")
        self._scored = ""  # the scores of the last "Score retrieval" sweep, as shown (their chunker named)
        self.score_button.on_click(lambda _b: self.start_scoring())
        for widget in (self.strategy, self.size, self.overlap):
            widget.observe(lambda _c: self._rechunk(), names="value")
        self.document.observe(lambda _c: self._render_document(), names="value")
        scoring = [w.HBox([self.score_button, self.cancel_button, self.scores])] if experiment is not None else []
        super().__init__([
            w.HTML(STYLE + f"<b>Chunk explorer</b> <span class='wb-muted'>{esc(self.corpus.name)}: {len(self.corpus)} documents</span>"),
            w.HBox([self.strategy, self.size, self.overlap]),
            self.summary,
            *scoring,
            self.hist,
            self.document,
            self.boundaries,
        ])
        self.add_class("wb-chunk-explorer")
        self._rechunk()

    def spec(self) -> ChunkerSpec:
        """The chunker config as set.

        Raises:
            SpecError: e.g. an overlap that is not smaller than the size.
        """
        try:
            return ChunkerSpec(strategy=self.strategy.value, size=self.size.value, overlap=self.overlap.value)
        except ValidationError as exc:
            raise wb.SpecError(f"chunker: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None

    @property
    def scoring(self) -> bool:
        """True while a "Score retrieval" sweep runs."""
        return self._job.running

    def start_scoring(self) -> None:
        """Start a retrieval-only sweep of the chunker as set in a background thread (what "Score retrieval" does), so
        the kernel stays free meanwhile: an index build takes minutes on a large corpus, and a sweep of another widget
        (a RunPanel's) runs first, whose Stop button must still work. Does nothing while one runs."""
        if self.scoring:
            return
        self.sweep, self._scored = None, ""
        if self.experiment is None:
            self.scores.value = error_html("no experiment: pass experiment=... to score retrieval")
            return
        try:
            spec = _with_chunker(self.experiment, self.spec())  # the chunker as set now, not when the thread gets to it
            _check_same_corpus(self.corpus, spec, self._run_options.get("settings"))  # read again: its files may have been edited since
        except wb.WorkbenchError as exc:
            self.scores.value = error_html(str(exc))
            return
        self.scores.value = "<span class='wb-muted'>retrieving…</span>"
        self.score_button.disabled, self.cancel_button.disabled = True, False
        self._stop = threading.Event()
        self._job.start(self._score, spec)

    def stop_scoring(self) -> None:
        """Call the "Score retrieval" sweep off (what Cancel does): one waiting for another sweep of this kernel never
        starts; one running stops after the current question."""
        if self.scoring:
            self._stop.set()
            self.cancel_button.disabled = True

    def join(self, timeout: float | None = None) -> wb.SweepResult | None:
        """Wait for the "Score retrieval" sweep; its result (None if it failed, or still runs after ``timeout``)."""
        return self.sweep if self._job.wait(timeout) else None

    def score_retrieval(self) -> wb.SweepResult | None:
        """Run a retrieval-only sweep of the chunker as set on the experiment's questions, show its metrics and return
        it (None when it could not run: the reason is shown)."""
        self.start_scoring()
        return self.join()

    def _score(self, spec: wb.ExperimentSpec) -> None:
        def progress(event: wb.ProgressEvent) -> None:
            if event.kind in ("sweep_waiting", "sweep_started"):  # waits for a sweep of this process (a RunPanel's), then runs
                self.scores.value = f"<span class='wb-muted'>{esc(event.message or 'retrieving…')}</span>"

        try:
            shown = {"corpus": self.corpus} if spec.corpus is None else {}  # an experiment given its documents in memory
            self.sweep = wb.run(spec, generate=False, progress=False, on_event=progress, stop=self._stop, **{**shown, **self._run_options})
        except Exception as exc:  # noqa: BLE001 - shown in the widget, not lost in the thread
            self.scores.value = error_html(str(exc) if isinstance(exc, wb.WorkbenchError) else f"{type(exc).__name__}: {exc}")
        else:
            self._scored = self._scores_html(self.sweep)
            self._show_scores()
        finally:
            self.score_button.disabled, self.cancel_button.disabled = False, True

    def _show_scores(self) -> None:
        """The last sweep's scores, said to be another chunker's once the sliders moved on from the one it scored: they
        stayed on screen beside the chunks of the new setting as if they were its scores."""
        if self.sweep is None or not self._scored:
            return
        scored = self.sweep.spec.chunkers[0]
        try:
            current: ChunkerSpec | None = self.spec()
        except wb.WorkbenchError:
            current = None
        stale = "" if scored == current else (
            f"<div class='wb-error wb-stale-scores'>scored for {esc(scored.label)}, not the chunker as set now "
            "— press Score retrieval to score it</div>")
        self.scores.value = stale + self._scored

    @staticmethod
    def _scores_html(sweep: wb.SweepResult) -> str:
        rows = [f"<b>{esc(sweep.spec.chunkers[0].label)}</b>"]
        for v in sweep.variants:
            if v.status != "FINISHED":
                rows.append(f"{esc(v.variant.retrieval.label)}: {esc(v.status)} — {esc(v.outcome.error or '')}")
                continue
            m = v.metrics
            rows.append(f"{esc(v.variant.retrieval.label)}: " + ", ".join(
                f"{name} <b>{m[name]:.3f}</b>" for name in ("hit_at_k", "recall_at_k", "mrr") if name in m))
        notes = "".join(f"<div class='wb-muted'>{esc(note)}</div>" for note in sweep.notes)
        # retrieval metrics are averaged over the questions with labelled sources only: count those, and all of them
        total, labelled = len(sweep.dataset), sum(1 for c in sweep.dataset.cases if c.source_ids)
        count = f"over {labelled} labelled question{'' if labelled == 1 else 's'}" + ("" if labelled == total else f" of {total}")
        return "<br>".join(rows) + f"<div class='wb-muted'>{count} · sweep {esc(sweep.parent_run_id or '')}</div>{notes}"

    def _loaded_embedder(self) -> Embedder:
        """The embedding model (its tokenizer, not its weights, is what the explorer uses), loaded once."""
        if self._embedder is None:
            self._embedder = load_embedder(self._embedding)
        return self._embedder

    def _token_counts(self, chunks: Sequence[Chunk]) -> dict[str, int]:
        """The tokens of each chunk text (none when the embedding model's limit is unknown: nothing to count them for),
        a text a setting still kept has (a short document's one chunk) not counted again."""
        if embedder_input_tokens(self._embedding) is None:
            return {}
        count, counts = self._loaded_embedder().count_tokens, {}
        for chunk in chunks:
            if chunk.text not in counts:
                known = next((kept.counts[chunk.text] for kept in self._kept.values() if chunk.text in kept.counts), None)
                counts[chunk.text] = count(chunk.text) if known is None else known
        return counts

    def _chunking(self, spec: ChunkerSpec) -> _Chunking:
        """The chunks of ``spec`` and what is shown of them, from the last settings shown when it is one of them.

        Raises:
            WorkbenchError: the embedder the token strategy counts with cannot load.
        """
        kept = self._kept.pop(spec, None)
        if kept is None:
            tokenizer = self._loaded_embedder().tokenizer if spec.strategy == "token" else None
            chunks = chunk_corpus(self.corpus, spec, tokenizer)
            counts = self._token_counts(chunks)
            # how many chunks are longer than the embedding model reads, as a sweep counts them (None: its limit is unknown)
            truncated = count_truncated(chunks, counts.__getitem__, embedder_input_tokens(self._embedding))
            kept = _Chunking(tuple(chunks), counts, chunk_stats(chunks, truncated=truncated),
                             tuple(length_histogram(chunks, bins=24)), sum(len(c.text) for c in chunks))
        self._kept[spec] = kept  # the newest
        while len(self._kept) > _KEPT_SETTINGS or (len(self._kept) > 1 and sum(k.chars for k in self._kept.values()) > _KEPT_CHARS):
            self._kept.popitem(last=False)
        return kept

    def _rechunk(self) -> None:
        try:
            spec = self.spec()
            shown = self._chunking(spec)
        except wb.WorkbenchError as exc:  # a bad config, or the embedder the token strategy counts with cannot load
            self.summary.value = error_html(str(exc))
            self._show_scores()
            return
        self.chunks, self.stats, self.histogram = list(shown.chunks), shown.stats, list(shown.histogram)
        s = self.stats
        self.summary.value = (
            f"<b>{s.count}</b> chunks from {s.documents} documents · characters: mean {s.mean_chars:.0f}, "
            f"median {s.median_chars:.0f}, p95 {s.p95_chars:.0f}, min {s.min_chars}, max {s.max_chars}"
        )
        self._show_scores()
        if s.truncated:  # the sweep would say it only after building the index: here it is seen while choosing the size
            limit = embedder_input_tokens(self._embedding)
            self.summary.value += "<br>" + error_html(
                f"{s.truncated} of {s.count} chunks are longer than the {limit} tokens {self._embedding} reads; only their "
                f"beginning is embedded, so retrieval cannot find the rest — use a smaller chunk size"
                + (f" ({limit} or less)" if spec.strategy == "token" else ""))
        peak = max((b.count for b in self.histogram), default=1)
        bars = "".join(
            f"<div title='{b.start}–{b.end - 1} chars: {b.count} chunks' style='height:{max(2, round(100 * b.count / peak))}%'></div>"
            for b in self.histogram
        )
        first, last = (self.histogram[0].start, self.histogram[-1].end - 1) if self.histogram else (0, 0)
        self.hist.value = (
            f"<div class='wb-muted'>chunk length histogram (characters)</div><div class='wb-hist'>{bars}</div>"
            f"<div class='wb-muted' style='display:flex;justify-content:space-between;width:100%'><span>{first}</span><span>{last}</span></div>"
        )
        self._render_document()

    def _render_document(self) -> None:
        doc = self.corpus.get(self.document.value)
        mine = [c for c in self.chunks if c.doc_id == doc.id]
        self.segments = chunk_segments(doc.text, mine)
        starts = self.corpus.page_starts.get(doc.id)
        word = page_word(doc.metadata)
        parts = []
        if doc.id not in self._secrets:
            # once per document, not per piece (see _shown), and only as far as a secret shown can reach
            self._secrets[doc.id] = tuple(find_secrets(doc.text[: _MAX_DOC_CHARS + _SECRET_MARGIN]))
        for seg in self.segments:
            if seg.start >= _MAX_DOC_CHARS:
                break
            text = esc(_shown(doc.text, seg.start, min(seg.end, _MAX_DOC_CHARS), self._secrets[doc.id]))
            klass = "gap" if not seg.chunks else ("ov" if len(seg.chunks) > 1 else f"c{seg.chunks[0] % 2}")
            title = "not in any chunk" if not seg.chunks else ("overlap of chunks " if len(seg.chunks) > 1 else "chunk ") + ", ".join(f"#{i}" for i in seg.chunks)
            title += _on_pages(starts, seg.start, seg.end, word)
            cut = " cut" if any(mine[i].start == seg.start for i in seg.chunks) else ""
            parts.append(f"<span class='{klass}{cut}' title='{title}'>{text}</span>")
        more = f"<div class='wb-muted'>… showing the first {_MAX_DOC_CHARS:,} characters</div>" if len(doc.text) > _MAX_DOC_CHARS else ""
        unplaced = sum(1 for c in mine if c.start < 0)
        if unplaced:
            more += (f"<div class='wb-muted'>{unplaced} of {len(mine)} chunks could not be placed in the text "
                     "(the chunker changed their whitespace), so they are not marked above</div>")
        self.boundaries.value = (
            f"<div class='wb-muted'>{esc(doc.id)}: {len(mine)} chunks{f' on {len(starts)} {word}s' if starts else ''} — alternating colours are chunks, red is overlap, "
            f"a red bar marks where a chunk starts</div><div class='wb-doc' dir='auto'>{''.join(parts)}</div>{more}"
        )
