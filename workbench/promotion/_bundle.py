"""Rebuild a promoted pipeline from its bundle folder alone (no MLflow): corpus, chunks, index, prompt, model."""

from __future__ import annotations

import contextlib
import json
import os
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import cast

from pydantic import ValidationError

from workbench.cache import ExtractedTexts
from workbench.config import settings as default_settings
from workbench.datasets import FORMAT_PACKAGES, Corpus, EvalCase, file_format, is_documents_file, load_corpus, on_disk
from workbench.errors import DataError
from workbench import grid
from workbench.grid import embedded_index_key
from workbench.models import (
    Embedder,
    GenerationParams,
    Generator,
    cost_of,
    embeds_queries_apart,
    endpoint_variables,
    file_sha256,
    hosted_server,
    load_embedder,
    load_generator,
    names_a_folder,
    without_versions,
)
from workbench.pipeline import (
    Chunk,
    ChromaIndexStore,
    IndexStore,
    QuestionRecord,
    Retriever,
    Router,
    chunk_corpus,
    chunks_digest,
    embed_chunks,
    generate_answer,
    retrieve_question,
    route_answer,
)
from workbench.promotion._config import (
    CONFIG_FILE,
    CORPUS_DOCUMENTS_FILE,
    GITATTRIBUTES_FILE,
    MANIFEST_FILE,
    MANIFEST_SCHEMA_VERSION,
    REPORT_FILE,
    BundleConfig,
    ChunksInfo,
    Manifest,
    folder_sha256_of,
    gguf_sha256,
    installed_version,
    newer_schema,
    sha256,
)
from workbench.promotion._corpus_check import describe_changes
from workbench.promotion._errors import BundleError
from workbench.prompts import PromptTemplate
from workbench.redaction import redact
from workbench.spec import ExecutionSpec, ModelSpec


@dataclass(frozen=True)
class BundleAnswer:
    """An answer and what it rests on: the retrieved chunks' sources (document ids, with the pages of a PDF's chunk:
    ``handbook#page=3-4``), chunk ids and texts; the model that
    answered (``model``: its id), and for a router whether it escalated to its strong model and why (one reason per
    signal that fired, as the evaluated run's traces give them); what it cost (``cost_usd``: its model calls, at the
    prices of the evaluated run's cost, ``config.prices``; None when a price is unknown, the bundle recorded none, or
    the provider reported no token counts)."""

    question: str
    answer: str
    source_ids: tuple[str, ...]
    chunk_ids: tuple[str, ...]
    contexts: tuple[str, ...]
    model: str = ""
    escalated: bool = False
    escalation_reasons: tuple[str, ...] = ()
    cost_usd: float | None = None


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: the validated config and the pipeline it describes. ``answer(question)`` runs it.

    A router's bundle answers through ``router`` (its cheap model, which ``generator`` and ``params`` are, first)."""

    path: Path
    config: BundleConfig
    template: PromptTemplate
    retriever: Retriever
    generator: Generator
    params: GenerationParams
    router: Router | None = None
    # the Chroma index store load_bundle opened (not one handed to it): let go of by close(), or once the bundle is gone
    _opened: ChromaIndexStore | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._opened is not None:  # dropped unclosed (a kernel loading bundle after bundle): its store goes with it
            weakref.finalize(self, self._opened.close)

    def close(self) -> None:
        """Let go of the index store ``load_bundle`` opened: Chroma keeps its folder's files and threads open for the life
        of the process otherwise (7 files and 6 threads a bundle). The bundle answers no more questions after. Idempotent;
        a ``with wb.load_bundle(...) as bundle:`` block closes it at its end."""
        if self._opened is not None:
            self._opened.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _respond(self, found: QuestionRecord, deadline: float | None) -> QuestionRecord:
        if self.router is not None:
            return route_answer(found, template=self.template, router=self.router, deadline=deadline)
        return generate_answer(found, template=self.template, generator=self.generator, params=self.params, deadline=deadline)

    def answer(self, question: str, *, timeout_s: float | None = None) -> BundleAnswer:
        """Retrieve, render the prompt, generate (a router: with its cheap model, then its strong one when a signal fires,
        as the evaluated router decided).

        Args:
            question: the user's question.
            timeout_s: the longest the whole answer may take, retrieval, the model's calls and their retries together
                (a request's own deadline); None: each hosted call has its ``timeout_s`` and is retried as a sweep's is.

        Raises:
            BundleError: the question is no text or blank, the embedding of the question, the search or the model call
                failed (redacted: a proxy's refusal may quote the key it was sent), or no whole answer came within
                ``timeout_s`` (a local model stops writing at it: its answer is not returned cut short).
        """
        if not isinstance(question, str):  # a web handler's request.json.get("question"): None, a number, a list
            raise BundleError(f"the question is a {type(question).__name__}, not text — pass the question as a str")
        if not question.strip():
            raise BundleError("the question is blank — ask something")
        if timeout_s is not None and not timeout_s > 0:  # NaN too
            raise BundleError(f"timeout_s={timeout_s}: give a number of seconds above 0, or None for no overall limit")
        started = time.monotonic()
        deadline = started + timeout_s if timeout_s is not None else None
        case = EvalCase(id="bundle-question", question=question)
        try:
            found = retrieve_question(case, self.retriever)
        except Exception as exc:  # noqa: BLE001 - any failure to embed or search is this question's one-line error
            raise BundleError(f"retrieval with {self.config.retrieval.embedding} failed: {redact(f'{type(exc).__name__}: {exc}')}") from None
        answering = self.config.model.id if self.router is None else f"router {self.router.name}"
        if deadline is not None and time.monotonic() >= deadline:
            raise BundleError(f"no answer within timeout_s={timeout_s:g}: retrieval with {self.config.retrieval.embedding} took "
                              f"{time.monotonic() - started:.2f} s, so {answering} was not asked — allow more time")
        record = self._respond(found, deadline)
        if record.error and deadline is not None and time.monotonic() >= deadline:  # its call's timeout was what was left
            raise BundleError(f"no answer within timeout_s={timeout_s:g}: {answering} did not answer in time "
                              f"({redact(record.error)}) — allow more time")
        undecided = record.escalation.signals.grounding_error if record.escalation is not None else None
        if undecided is not None:  # the sweep's error says to run it again; a deployment asks the question again
            raise BundleError(f"{answering} could not decide whether to escalate: grounding_below could not be measured (embedding "
                              f"the cheap answer with {self.config.retrieval.embedding} failed: {redact(undecided)}) — ask again")
        if record.error:
            # redacted: a proxy's refusal may quote the key it was sent, and a deployment logs or returns this error
            raise BundleError(f"{answering} failed to answer: {redact(record.error)}")
        if record.generation is not None and record.generation.finish_reason == "deadline":
            raise BundleError(f"no answer within timeout_s={timeout_s:g}: {record.answered_by or answering} was still writing it after "
                              f"{record.generation.output_tokens} tokens — allow more time, or a lower max_tokens")
        return BundleAnswer(
            question=question, answer=record.answer, source_ids=record.retrieved_ids,
            chunk_ids=tuple(h.chunk.id for h in record.hits), contexts=tuple(h.chunk.text for h in record.hits),
            model=record.answered_by or self.config.model.id, escalated=record.escalated,
            escalation_reasons=record.escalation.reasons if record.escalation is not None else (), cost_usd=self._cost(record),
        )

    def _cost(self, record: QuestionRecord) -> float | None:
        if self.router is not None:  # its calls priced as it made them
            return record.cost_usd
        return cost_of(record.generation, self.config.price(self.config.model.id)) if record.generation is not None else None


def _manifest(path: Path) -> Manifest:
    """``manifest.json`` validated as the export wrote it (a file list that is not path -> sha256 is no manifest)."""
    restore = "restore it from the bundle's commit"
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested deeper than the decoder follows
        raise BundleError(f"{path}: not a workbench manifest (not JSON) — {restore}") from None
    newer = newer_schema(data, MANIFEST_SCHEMA_VERSION, str(path)) if isinstance(data, dict) else None
    if newer is not None:
        raise BundleError(newer)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "top level"
        raise BundleError(f"{path}: not a workbench manifest ({where}: {err['msg']}) — {restore}") from None
    outside = next((rel for rel in manifest.files if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts), None)
    if outside is not None:
        raise BundleError(f"{path}: lists '{outside}', outside the bundle folder — {restore}")
    return manifest


def _verify(folder: Path) -> Manifest | None:
    """The bundle's manifest after checking every file it lists; None for a bare config bundle (no manifest)."""
    manifest_path = folder / MANIFEST_FILE
    exported = next((name for name in (REPORT_FILE, GITATTRIBUTES_FILE) if (folder / name).is_file()), None)
    if not manifest_path.is_file() and exported is not None:  # an export writes them all: its files are unchecked
        raise BundleError(f"{manifest_path}: missing, so no file of this exported bundle can be checked (it holds "
                          f"{exported}) — restore the bundle from its commit, with {MANIFEST_FILE}")
    if not manifest_path.is_file():
        return None  # a bare config bundle (e.g. the registered model's artifacts) has no manifest
    manifest = _manifest(_inside(folder, MANIFEST_FILE))
    for rel, digest in manifest.files.items():
        file = _inside(folder, rel)
        if not file.is_file():
            raise BundleError(f"{file}: listed in {MANIFEST_FILE} but missing — restore the bundle from its commit")
        data = file.read_bytes()
        if sha256(data) != digest:
            raise BundleError(f"{file}: sha256 differs from {MANIFEST_FILE} — {_changed(data, digest, folder)}")
    unlisted = [rel for rel in sorted(_bundle_files(folder)) if rel not in manifest.files and rel != MANIFEST_FILE]
    if unlisted:
        more = f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""
        raise BundleError(f"{folder / unlisted[0]}{more}: not listed in {MANIFEST_FILE}, so not exported with the bundle — a file "
                          "added after export, or the manifest was edited: remove it, or restore the bundle from its commit")
    return manifest


def _changed(data: bytes, digest: str, folder: Path) -> str:
    """What became of a bundle file that no longer has its exported ``digest``, and what to do (pure but for the text)."""
    if b"\r\n" in data and sha256(data.replace(b"\r\n", b"\n")) == digest:
        converted = "its line ends were converted to CRLF"
    elif b"\r\n" not in data and sha256(data.replace(b"\n", b"\r\n")) == digest:
        converted = "its CRLF line ends were converted to LF"
    else:
        return "the file was modified after export: restore the bundle from its commit"
    # git's core.autocrlf (Git for Windows' default) on a bundle exported before its .gitattributes kept it byte for byte,
    # or an editor, or a copy through a tool that converts text
    return (f"{converted} after export, the text unchanged (git's core.autocrlf, an editor or a copying tool): delete the folder "
            f"and check it out again without conversion (git -c core.autocrlf=false checkout -- {folder}), or copy it as bytes")


def _bundle_files(folder: Path) -> Iterator[str]:
    """The files of a bundle folder, relative to it, links included and never followed: what its manifest must list.

    Hidden files and folders are left out, as a corpus folder's are: the workbench home of a bundle loaded from its own
    folder (``.workbench/``), ``.DS_Store``, ``.ipynb_checkpoints/``; the one an export writes (``.gitattributes``) is
    checked as listed.
    """
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        linked = [d for d in dirs if (here / d).is_symlink()]  # never descended into (os.walk does not follow them)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in linked]
        for name in files + linked:
            if not name.startswith("."):
                yield (here / name).relative_to(folder).as_posix()


def _inside(folder: Path, rel: str) -> Path:
    """``folder / rel``, a file of the bundle (``folder`` is resolved).

    Raises:
        BundleError: it is a link, or lies in a linked folder, leading outside the bundle: a deployment repository (a
            pull request to it) can hold a link, which git keeps, to the deployer's ``~/.docker/config.json``; read as
            a prompt, the template check quoted its braces in its error.
    """
    file = folder / rel
    target = file.resolve()
    if not target.is_relative_to(folder):
        raise BundleError(f"{file}: a link to {target}, outside the bundle folder — a bundle's files are its own: restore the "
                          "bundle from its commit")
    return file


def _read(folder: Path, rel: str) -> str:
    file = _inside(folder, rel)
    if not file.is_file():
        raise BundleError(f"{file}: missing — the bundle is incomplete")
    return file.read_text(encoding="utf-8")


def _documents(folder: Path, rel: str) -> Corpus:
    """The corpus a bundle holds as a JSONL file (``Corpus.to_jsonl``)."""
    file = folder / rel
    return documents_corpus(_read(folder, rel), str(file), name=file.stem)


def documents_corpus(text: str, where: str, *, name: str) -> Corpus:
    """The corpus of documents written by ``Corpus.to_jsonl`` (a bundle's file, or the ones a sweep logged).

    Raises:
        BundleError: a line is not JSON or not a document, naming ``where`` and the line.
    """
    records = []
    # lines end at "\n" only: JSON leaves U+2028, U+2029 and U+0085 of a document's text unescaped, and splitlines()
    # would cut its line there
    for lineno, line in enumerate(text.split("\n"), start=1):
        try:
            records += [json.loads(line)] if line.strip() else []
        except json.JSONDecodeError as exc:
            raise BundleError(f"{where}:{lineno}: not valid JSON ({exc.msg}) — the bundle is damaged: export it again") from None
    try:
        return load_corpus(records, name=name)
    except DataError as exc:
        raise BundleError(f"{where}: {exc} — the bundle is damaged: export it again") from None


def _corpus_folder(config: BundleConfig, folder: Path, corpus_path: str | Path | None) -> Path:
    """The folder (or file of documents) of a corpus read from disk: ``corpus_path`` when given, else the path
    config.yaml holds (relative to the bundle or the current folder; a folder a Mac copied with decomposed names too).

    Raises:
        BundleError: ``corpus_path`` is no folder (no file of documents, for a corpus that was one), or none is given
            and the recorded one is not found.
    """
    info = config.corpus
    one_file = is_documents_file(info.path or "")
    what = "file" if one_file else "folder"
    if corpus_path is not None:
        given = on_disk(Path(corpus_path).expanduser())
        if not (given.is_file() and is_documents_file(given) if one_file else given.is_dir()):
            raise BundleError(f"corpus_path={corpus_path}: no such {what} — give the {what} of the corpus the bundle was evaluated "
                              f"on ('{info.path}' where it was evaluated)")
        return given
    raw = Path(info.path or "").expanduser()
    candidates = [raw] if raw.is_absolute() else [folder / raw, Path.cwd() / raw]
    found = next((c for c in map(on_disk, candidates) if (c.is_file() if one_file else c.is_dir())), None)
    if found is None:
        # a relative path is the experiment's, from its file's folder, which the deployment does not have
        missing = (f"corpus {what} '{info.path}' is not found" if raw.is_absolute() else
                   f"corpus {what} '{info.path}' (the experiment's path, relative to its file) is neither in {folder} nor in the "
                   f"current folder {Path.cwd()}")
        raise BundleError(f"{folder / CONFIG_FILE}: {missing} — pass the {what} of the corpus's {info.documents} documents: "
                          "wb.load_bundle(path, corpus_path=...)")
    return found


@contextlib.contextmanager
def _project_texts() -> Iterator[ExtractedTexts | None]:
    """The PDF, HTML and Word texts kept in the project's cache, when it has a workbench home (a deployment's repository
    without one is left without a .workbench folder, which its next export would refuse as uncommitted)."""
    here = default_settings()
    if not here.home.is_dir():
        yield None
        return
    with ExtractedTexts.of_project(here) as texts:
        yield texts


def _corpus(config: BundleConfig, folder: Path, corpus_path: str | Path | None) -> Corpus:
    info = config.corpus
    where: str
    if corpus_path is not None and info.path is None:  # it would be left unread, the deployment thinking it served it
        held = f"the built-in corpus '{info.builtin}'" if info.builtin is not None else f"the documents it holds ({info.file})"
        raise BundleError(f"corpus_path={corpus_path}: the bundle was evaluated on {held}, not on a folder — leave corpus_path out")
    if info.builtin is not None:
        corpus = load_corpus(info.builtin)
        where = info.builtin
    elif info.file is not None:  # documents given in memory to the sweep, in the bundle
        corpus = _documents(folder, info.file)
        where = str(folder / info.file)
    else:
        found = _corpus_folder(config, folder, corpus_path)
        try:
            with _project_texts() as texts:
                corpus = load_corpus(found, glob=info.glob, exclude=info.exclude, texts=texts, columns=info.columns)
        except DataError as exc:
            raise BundleError(str(exc)) from None
        where = str(found)
    if not corpus.hashed_as(info.hash):  # a bundle exported before the hash covered pages recorded its text_hash
        fix = ("the built-in corpus of another workbench: load the bundle with the workbench it was evaluated with (its "
               f"{REPORT_FILE} names the version), or promote a configuration evaluated with this one" if info.builtin is not None
               else f"use the same corpus (the answers would differ){_extracted_fix(corpus)}, or promote a configuration evaluated on this one")
        # the hashes alone do not say whether documents were added or removed, or one was edited
        changed = "a document's text, or where a PDF's or deck's pages start," if corpus.page_starts else "a document's text"
        count = (f": the same number of documents ({len(corpus)}), so {changed} changed since" if len(corpus) == info.documents
                 else f": {len(corpus)} documents, where it had {info.documents}" if info.documents else "") if info.builtin is None else ""
        evaluated = _evaluated_documents(folder) if info.path is not None else None
        if evaluated is not None:  # the documents themselves, as export recorded them: which were added, removed or changed
            pages = " (a text, or where a PDF's or deck's pages start)" if corpus.page_starts else ""
            count = f": {describe_changes(evaluated, corpus.document_hashes())} since{pages}"
        raise BundleError(f"corpus {where} has hash {corpus.hash[:12]} but the bundle was evaluated on {info.hash[:12]}{count} — {fix}")
    return corpus


def _evaluated_documents(folder: Path) -> dict[str, str] | None:
    """Each document's hash as the bundle's run evaluated it (``CORPUS_DOCUMENTS_FILE``, checked against the manifest
    with the other files); None for a bundle exported before it held them."""
    file = folder / CORPUS_DOCUMENTS_FILE
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def _extracted_fix(corpus: Corpus) -> str:
    """For a corpus holding PDFs, HTML pages, Word documents or PowerPoint decks, whose text another version of the
    packages reading them may read otherwise (pure): the packages to install as the evaluation had them."""
    if not any(file_format(doc.metadata.get("path", "")) for doc in corpus.documents):
        return ""
    packages = f"workbench, {', '.join(FORMAT_PACKAGES[:-1])} and {FORMAT_PACKAGES[-1]}"  # workbench's own reading changes too
    return f" and the versions of {packages} its {REPORT_FILE} names (which read its PDFs, HTML pages, Word documents and PowerPoint decks)"


def _check_server(config: BundleConfig, folder: Path, model_id: str, identity: str) -> None:
    """Refuse a model that this environment sends to another server than the one the bundle was evaluated on."""
    if config.servers is None:  # not recorded: a bundle of a run logged before workbench recorded servers
        return
    evaluated, here = config.servers.get(model_id), hosted_server(model_id, identity)
    if evaluated == here:
        return
    default = "its provider's default server"
    names = " or ".join(endpoint_variables(model_id)) or "the provider's server setting"
    fix = f"point {names} at {evaluated}" if evaluated else f"unset {names}"
    raise BundleError(f"{folder / CONFIG_FILE}: {model_id} was evaluated on {evaluated or default}, but this environment sends it "
                      f"to {here or default} — {fix} (the answers would differ), or promote a configuration evaluated there")


def _generator(config: BundleConfig, model: ModelSpec, folder: Path, model_path: str | Path | None) -> Generator:
    """A model of the bundle; a ``llamacpp:`` model's GGUF file from ``model_path`` when given (the path config.yaml holds
    is the evaluating machine's), checked to be the evaluated file before it is read as a model: another file was
    refused for what it is not (no chat template: "set kind: completion", a kind the bundle does not let one set).

    Raises:
        BundleError: the GGUF file is not there, or not the evaluated one.
    """
    provider, _, recorded = model.id.partition(":")
    if provider != "llamacpp":
        return load_generator(model.id, kind=model.resolved_kind, context_window=model.window)
    file = Path(model_path if model_path is not None else recorded).expanduser()
    if not file.is_file():
        where = f"model_path={model_path}" if model_path is not None else f"{folder / CONFIG_FILE}: {model.id}"
        raise BundleError(f"{where}: no such file {file} — {'pass' if model_path is None else 'give'} model_path= the GGUF file the "
                          "bundle was evaluated with, where it is on this machine")
    if model_path is not None:
        _check_weights(config, folder, model.id, f"gguf:{file_sha256(file, record=False)}:")
    return load_generator(f"llamacpp:{file}", kind=model.resolved_kind, context_window=model.window)


def _generators(config: BundleConfig, folder: Path, model_path: str | Path | None,
                overrides: Mapping[str, Generator | Embedder]) -> dict[tuple[str, str], Generator]:
    """The bundle's answering models (a router's two) by id and kind, each checked against the server and GGUF file it
    was evaluated with; ``model_path`` is the GGUF file of its one ``llamacpp:`` model.

    Raises:
        BundleError: ``model_path`` given for a bundle without exactly one llamacpp: model, a GGUF file not there, a
            model sent to another server or holding other weights than evaluated.
    """
    models = {(m.id, m.resolved_kind): m for m in config.answering_models.values()}
    files = sorted({model_id for model_id, _ in models if model_id.startswith("llamacpp:")})
    if model_path is not None and len(files) != 1:
        ids = list(dict.fromkeys(i for i, _ in models))
        held = (f"the bundle's model {ids[0]} is not a llamacpp: GGUF file" if len(ids) == 1 else
                f"the bundle's models {' and '.join(ids)} are not llamacpp: GGUF files" if not files else
                f"the bundle's router has two llamacpp: GGUF files ({', '.join(files)}), which one path cannot give both")
        raise BundleError(f"model_path={model_path}: {held} — leave model_path out")
    generators: dict[tuple[str, str], Generator] = {}
    for key, model in models.items():
        generators[key] = cast(Generator, overrides[model.id]) if model.id in overrides else _generator(config, model, folder, model_path)
        _check_server(config, folder, model.id, generators[key].identity)
        _check_weights(config, folder, model.id, generators[key].identity)
    return generators


def _params(model: ModelSpec, seed: int, retries: int) -> GenerationParams:
    """How the bundle calls ``model``: its params and the evaluated seed; a hosted call is retried on 429, 5xx and
    timeouts as a sweep's are by default (its client's own retries are off)."""
    return model.params.generation(seed, retries)


def _check_weights(config: BundleConfig, folder: Path, model_id: str, identity: str) -> None:
    """Refuse a llama.cpp model whose GGUF file is not the one the bundle was evaluated with."""
    evaluated = (config.weights or {}).get(model_id)
    here = gguf_sha256(identity)
    if evaluated is None or here == evaluated:
        return
    fix = "give the evaluated file (model_path=)" if model_id.startswith("llamacpp:") else "load it with the workbench that exported it"
    raise BundleError(f"{folder / CONFIG_FILE}: {model_id} was evaluated with the GGUF file of sha256 {evaluated[:12]}, but here it "
                      f"is {'the file of sha256 ' + here[:12] if here else 'no GGUF file'} — other weights, so the answers would differ: "
                      f"{fix}, or evaluate this one, promote and export it")


def _embedder(config: BundleConfig, folder: Path, embedding_path: str | Path | None, *, retries: int, queries: bool = False) -> Embedder:
    """The bundle's embedding model; a ``huggingface:`` model folder from ``embedding_path`` when given (the path
    config.yaml holds is the evaluating machine's).

    Raises:
        BundleError: ``embedding_path`` given for a model that is no folder, or the folder is not there.
    """
    embedding = config.retrieval.embedding
    evaluated = folder_sha256_of(config.embedder.identity) if config.embedder is not None else None
    # written as a path, or evaluated as a folder (one of the working directory, named like a hub model: my-embedder)
    in_folder = names_a_folder(embedding) or evaluated is not None
    if embedding_path is not None and not in_folder:
        raise BundleError(f"embedding_path={embedding_path}: the bundle's embedding model {embedding} is not a huggingface: model "
                          "folder — leave embedding_path out")
    if not in_folder:
        return load_embedder(embedding, retries=retries, queries=queries)
    given = Path(embedding_path if embedding_path is not None else embedding.partition(":")[2]).expanduser().absolute()
    if not given.is_dir():
        where = f"embedding_path={embedding_path}" if embedding_path is not None else f"{folder / CONFIG_FILE}: {embedding}"
        digest = f" (sha256 {evaluated[:12]})" if evaluated else ""
        raise BundleError(f"{where}: no such folder {given} — {'pass' if embedding_path is None else 'give'} embedding_path= the "
                          f"folder of the model{digest} where it is on this machine")
    return load_embedder(f"huggingface:{given}", retries=retries, queries=queries)


def _check_folder(config: BundleConfig, folder: Path, embedder: Embedder) -> None:
    """Refuse a ``huggingface:`` model folder holding other files than the one the bundle was evaluated with (a
    fine-tune saved into it, another model at the deployment's path): another model, whatever ``allow_other_embedder``."""
    evaluated = folder_sha256_of(config.embedder.identity) if config.embedder is not None else None
    here = folder_sha256_of(embedder.identity)
    if evaluated is None or here is None or here == evaluated:
        return
    held = Path(embedder.model_id.partition(":")[2])
    pointer = _lfs_pointer(held)
    why = (f": {pointer} is a Git LFS pointer, not the file it stands for — fetch the files (git lfs pull in {held}), or give the "
           "evaluated folder (embedding_path=)" if pointer is not None else
           " — other weights, so retrieval would differ: give the evaluated folder (embedding_path=), or evaluate this one, "
           "promote and export it")
    raise BundleError(f"{folder / CONFIG_FILE}: {config.retrieval.embedding} was evaluated with the model folder of sha256 "
                      f"{evaluated[:12]}, but {held} holds the one of sha256 {here[:12]}{why}")


# how a file Git LFS stands in for starts in a clone made without git-lfs (a model repository of the Hugging Face hub)
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def _lfs_pointer(model: Path) -> Path | None:
    """The first file of a model folder that is a Git LFS pointer (its hidden entries aside), None when none is."""
    for file in sorted(model.rglob("*")):
        hidden = any(part.startswith(".") for part in file.relative_to(model).parts)
        if not hidden and file.is_file() and file.stat().st_size < 1024 and file.read_bytes().startswith(_LFS_POINTER):
            return file
    return None


def _changed_packages(evaluated: Mapping[str, str]) -> list[tuple[str, str, str | None]]:
    """The packages of a pin (package -> the version the bundle was evaluated with) installed here in another version:
    (name, evaluated version, version here or None)."""
    here = {name: installed_version(name) for name in sorted(evaluated)}
    return [(name, version, here[name]) for name, version in sorted(evaluated.items()) if here[name] != version]


def _embedder_packages(config: BundleConfig) -> dict[str, str]:
    """The embedding model's pin: the packages computing its vectors and their evaluated versions ({} when none)."""
    return config.embedder.packages if config.embedder is not None else {}


def _install_advice(changed: Sequence[tuple[str, str, str | None]]) -> tuple[str, str]:
    """The changed packages of a pin as shown (``torch 2.1.0 (here 2.2.0)``) and as installed (``torch==2.1.0``) (pure)."""
    shown = ", ".join(f"{name} {version} (here {here or 'not installed'})" for name, version, here in changed)
    return shown, " ".join(f"{name}=={version}" for name, version, _ in changed)


def _vectors_identity(identity: str, changed: Sequence[tuple[str, str, str | None]]) -> str:
    """What the index's vectors are keyed by: the embedder's identity, and the versions of its packages when they are not
    the evaluated ones (allowed): an index kept in a volume across an image upgrade was reused, its vectors computed by
    the old versions and the questions' by the new."""
    return identity + "".join(f"+{name}=={here}" for name, _, here in changed)


def _check_embedder(config: BundleConfig, folder: Path, identity: str) -> None:
    """Refuse an embedding model that is not the evaluated one: another implementation (``identity``), or a local
    model computed by other versions of its packages, which may embed the corpus otherwise and retrieve other chunks."""
    evaluated, embedding = config.embedder, config.retrieval.embedding
    if evaluated is None:  # not recorded: a bundle of a run logged before workbench recorded its models
        return
    override = "or pass allow_other_embedder=True to load it as it is here (then check its answers)"
    # the package versions an identity ends with (MiniLM's) are checked below, by name, against the pin; a bundle
    # exported before identities named them recorded the implementation alone
    if without_versions(identity) != without_versions(evaluated.identity):
        raise BundleError(f"{folder / CONFIG_FILE}: {embedding} was evaluated as {evaluated.identity}, but here it is {identity} "
                          f"— another implementation, so retrieval may differ: load it with the workbench that exported it, {override}")
    changed = _changed_packages(_embedder_packages(config))
    if changed:
        shown, pins = _install_advice(changed)
        raise BundleError(f"{folder / CONFIG_FILE}: {embedding} was evaluated with {shown}, which may embed otherwise, so "
                          f"retrieval may differ — install them as evaluated (pip install {pins}), {override}")


def _check_generator(config: BundleConfig, folder: Path) -> None:
    """Refuse a GGUF model run here by another llama-cpp-python than the evaluated one: its release vendors another
    llama.cpp (kernels, sampler) and other chat templates, so the model may answer otherwise."""
    changed = _changed_packages(config.generator.packages if config.generator is not None else {})
    if changed:
        shown, pins = _install_advice(changed)
        it = "it" if len(changed) == 1 else "them"
        models = " and ".join(dict.fromkeys(m.id for m in config.answering_models.values()))
        raise BundleError(f"{folder / CONFIG_FILE}: {models} {'were' if ' and ' in models else 'was'} evaluated with {shown}, which may answer otherwise (another "
                          f"llama.cpp, sampler or chat template) — install {it} as evaluated (pip install {pins}), or pass "
                          "allow_other_generator=True to load it as it is here (then check its answers)")


# the chunking revision of the last workbench whose bundles did not record theirs (config.yaml's chunking_revision: null)
_UNRECORDED_REVISION = 3

_AGAIN = ("load it with the workbench that exported it, or evaluate the configuration again with this one, promote and "
          "export it again")


def _check_chunks(evaluated: ChunksInfo, chunks: Sequence[Chunk], where: str) -> None:
    """Refuse chunks that are not the evaluated ones (a newer chunking revision cut the corpus otherwise)."""
    if chunks_digest(chunks) == evaluated.sha256:
        return
    cut = (f"{len(chunks)} chunks, not the {evaluated.count} evaluated" if len(chunks) != evaluated.count
           else f"{len(chunks)} chunks, as many as evaluated, but their ids or texts differ")
    raise BundleError(f"{where}, but this workbench (revision {grid.CHUNKING_REVISION}) cuts the corpus into {cut}, so the "
                      f"answers would differ — {_AGAIN}")


def _bundles_in(folder: Path, depth: int = 2) -> list[str]:
    """The exported bundle folders (a ``config.yaml`` beside a ``manifest.json``) up to ``depth`` levels below
    ``folder``, relative to it, in order: a deployment repository's root given for one of its bundles."""
    found: list[str] = []
    level = [folder] if folder.is_dir() else []
    for _ in range(depth):
        level = sorted(d for parent in level for d in _subfolders(parent))
        found += [d.relative_to(folder).as_posix() for d in level if (d / CONFIG_FILE).is_file() and (d / MANIFEST_FILE).is_file()]
    return sorted(found)


def _subfolders(parent: Path) -> list[Path]:
    """The folders in ``parent``, hidden ones aside (none when it cannot be listed)."""
    try:
        return [d for d in parent.iterdir() if d.is_dir() and not d.name.startswith(".")]
    except OSError:
        return []


def _default_index_dir() -> Path:
    """The project's index folder, its workbench home ignored by git: a bundle is often loaded in its deployment
    repository (a smoke test), whose next export would otherwise be refused as holding uncommitted changes."""
    here = default_settings()
    try:
        here.home.mkdir(parents=True, exist_ok=True)
        ignore = here.home / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# indexes and caches of the workbench: never committed\n*\n", encoding="utf-8")
    except OSError as exc:  # a read-only working directory (a container's), or a file of that name
        raise BundleError(f"{here.home}: the bundle's index cannot be made there ({exc.strerror or type(exc).__name__}) — pass "
                          "index_dir= a writable folder, or set WORKBENCH_HOME") from None
    return here.index_dir


def load_bundle(
    path: str | Path,
    *,
    corpus_path: str | Path | None = None,
    model_path: str | Path | None = None,
    embedding_path: str | Path | None = None,
    index_dir: str | Path | None = None,
    index_store: IndexStore | None = None,
    models: Mapping[str, Generator | Embedder] | None = None,
    allow_other_embedder: bool = False,
    allow_other_generator: bool = False,
) -> Bundle:
    """Rebuild the exact pipeline of an exported bundle, without MLflow.

    Checks every file against ``manifest.json`` (an exported bundle without it is refused, and so is a file it does not
    list, hidden ones aside), validates ``config.yaml``, loads the corpus and checks its hash, chunks and embeds it into
    a Chroma index (reused when one with the same content key exists), and loads the model (a llama.cpp model's GGUF
    file must be the evaluated one, ``config.weights``, run by the evaluated llama-cpp-python, ``config.generator``). A bundle evaluated on chunks cut by another chunking revision
    loads when this workbench cuts the corpus into the very same chunks (``config.chunks``), and is refused otherwise.

    Args:
        path: the bundle folder (holding ``config.yaml``).
        corpus_path: the corpus folder (or file of documents), for bundles of a corpus read from disk and moved since evaluation.
        model_path: the GGUF file, for bundles of a ``llamacpp:`` model whose file lies elsewhere on this machine than
            on the one that evaluated it (it must be the same file: ``config.weights``).
        embedding_path: the model folder, for bundles of a ``huggingface:`` embedding model saved in a folder that lies
            elsewhere on this machine than on the one that evaluated it (it must hold the same files: the folder's
            sha256 in ``config.embedder``, refused otherwise whatever ``allow_other_embedder``).
        index_dir: where the Chroma index lives (default: the project's index cache).
        index_store: an index store to use instead of Chroma (tests).
        models: model ids mapped to ready generators/embedders (tests use the fakes from ``workbench.testing``).
        allow_other_embedder: load a bundle whose embedding model here is another implementation, or computed by other
            versions of its packages, than the evaluated one (``config.embedder``), which is refused by default.
        allow_other_generator: load a bundle whose GGUF model is run here by another llama-cpp-python than the
            evaluated one (``config.generator``), which is refused by default.

    Raises:
        BundleError: a missing or modified file, an invalid config, a corpus that differs from the evaluated one,
            chunks that differ from the evaluated ones, an embedding model other than the evaluated one (a model
            folder holding other files, ``embedding_path=`` or not), a GGUF model
            run by another llama-cpp-python than the evaluated one, or an embedding model that
            failed to embed the corpus (its error redacted).
    """
    folder = Path(path).expanduser().resolve()
    if folder.is_file() and (folder.parent / CONFIG_FILE).is_file():  # its config.yaml given for it, as to an editor
        raise BundleError(f"{folder}: a file of the bundle, not its folder — give the folder: {folder.parent}")
    if not (folder / CONFIG_FILE).is_file():
        inside = _bundles_in(folder)
        named = f": {' or '.join(inside[:3])}{' (and more)' if len(inside) > 3 else ''} in it" if inside else ""
        raise BundleError(f"{folder}: no {CONFIG_FILE} — give the bundle folder of an export{named}")
    manifest = _verify(folder)
    try:
        config = BundleConfig.from_yaml(_read(folder, CONFIG_FILE), source=str(folder / CONFIG_FILE))
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if manifest is not None and (manifest.config_hash, manifest.name) != (config.config_hash, config.name):
        raise BundleError(f"{folder / MANIFEST_FILE}: describes {manifest.name} config {manifest.config_hash[:12]} but {CONFIG_FILE} "
                          f"holds {config.name} config {config.config_hash[:12]} — the manifest was edited or comes from another "
                          "bundle; restore the bundle from its commit")
    system = _read(folder, config.prompt.system_file) if config.prompt.system_file else ""
    try:
        template = PromptTemplate(config.prompt.name, _read(folder, config.prompt.file), system)
    except ValueError as exc:
        raise BundleError(f"{folder / config.prompt.file}: {exc}") from None
    if template.hash != config.prompt.sha256:
        raise BundleError(f"{folder / config.prompt.file}: prompt differs from the promoted one (sha256 mismatch)")

    revision = config.chunking_revision
    # a bundle exported before the revision was recorded was cut by one up to _UNRECORDED_REVISION: this one may cut others
    recut = revision != grid.CHUNKING_REVISION
    cut_by = (f"chunking revision {revision}" if revision is not None
              else f"a workbench that did not record its chunking revision (revision {_UNRECORDED_REVISION} or older)")
    if recut and config.chunks is None:  # exported before the chunks were recorded: they cannot be compared
        raise BundleError(f"{folder / CONFIG_FILE}: evaluated on chunks cut by {cut_by}, but this workbench "
                          f"cuts revision {grid.CHUNKING_REVISION}, so the answers would differ — {_AGAIN}")
    overrides = dict(models or {})
    # the models first: a missing key, package or GGUF file is one line before minutes of chunking and embedding
    generators = _generators(config, folder, model_path, overrides)
    if not allow_other_generator:
        _check_generator(config, folder)
    corpus = _corpus(config, folder, corpus_path)
    embedding = config.retrieval.embedding
    retries = ExecutionSpec().retries  # a hosted model's calls are retried as a sweep's are by default
    embedder = cast(Embedder, overrides[embedding]) if embedding in overrides else _embedder(config, folder, embedding_path, retries=retries)
    _check_server(config, folder, embedding, embedder.identity)
    _check_folder(config, folder, embedder)
    if not allow_other_embedder:
        _check_embedder(config, folder, embedder.identity)
    chunks = chunk_corpus(corpus, config.chunker, embedder.tokenizer) if recut else None
    if chunks is not None and config.chunks is not None:
        _check_chunks(config.chunks, chunks, f"{folder / CONFIG_FILE}: evaluated on chunks cut by {cut_by}")
    opened = None if index_store is not None else ChromaIndexStore(Path(index_dir) if index_dir is not None else _default_index_dir())
    store = index_store if index_store is not None else cast(ChromaIndexStore, opened)
    try:
        key = embedded_index_key(config.chunker, embedding, corpus.text_hash, _vectors_identity(embedder.identity, _changed_packages(_embedder_packages(config))))
        index = store.open(key)
        if index is None:
            chunks = chunks if chunks is not None else chunk_corpus(corpus, config.chunker, embedder.tokenizer)
            try:
                vectors = embed_chunks(embedder, chunks)  # in a sweep's batches (never stopped: None only when asked to stop)
            except Exception as exc:  # noqa: BLE001 - a hosted model's refusal, a timeout, ...: one line, secrets redacted
                raise BundleError(f"{folder / CONFIG_FILE}: embedding the corpus with {embedding} failed: "
                                  f"{redact(f'{type(exc).__name__}: {exc}')}") from None
            index = store.build(key, chunks, vectors if vectors is not None else [])
        # a router measures grounding with the embedding model that embedded the chunks, as its sweep did
        router = None if config.router is None else Router.from_spec(
            config.router, generator=lambda m: generators[(m.id, m.resolved_kind)], params=lambda m: _params(m, config.seed, retries),
            price=config.price, embedder=embedder)
        # questions embedded as the sweep embedded them: as search queries where the provider embeds those otherwise
        queries = (_embedder(config, folder, embedding_path, retries=retries, queries=True)
                   if embeds_queries_apart(embedding) and embedding not in overrides else embedder)
        return Bundle(folder, config, template, Retriever(index=index, embedder=queries, spec=config.retrieval, pages=corpus.page_starts),
                      generators[(config.model.id, config.model.resolved_kind)], _params(config.model, config.seed, retries), router,
                      opened)
    except BaseException:
        if opened is not None:
            opened.close()
        raise
