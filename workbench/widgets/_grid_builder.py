"""GridBuilder: edit an experiment's grid (dataset, corpus, prompts, models, chunkers, retrieval) and save it as YAML."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w

import workbench as wb
from workbench.config import LARGE_GRID
from workbench.datasets import (
    PYTHON_REFERENCE, check_corpus_folder, check_documents_columns, columns_from_text, columns_text, is_documents_file, reads_as_documents,
    suggested_columns,
)
from workbench.errors import DataError, SpecError, WorkbenchError
from workbench.grid import plan_grid
from workbench.models import GEMMA_ID, MINILM_ID, SMOLLM2_ID, check_model_id
from workbench.prompts import check_template
from workbench.runner import load_spec_dataset
from workbench.spec import ChunkerSpec, ModelSpec, PromptSpec, RetrievalSpec
from workbench.widgets._common import STYLE, error_html, esc

_DEFAULT_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"
_STRATEGIES = ["recursive", "token", "markdown", "sentence"]
_LIMIT_TIP = "0 = all questions"
_MEMORY_LIMIT_TIP = "questions given in memory: set the limit with RunPanel(limit=...)"
_COLUMNS_TIP = "the file's own column names, our field: its column (columns: in the YAML)"
_NO_COLUMNS = {"dataset": "e.g. question: prompt, reference: expected_answer", "corpus": "e.g. id: doc_id, text: body"}


def _row_box(children: Sequence[w.Widget]) -> w.HBox:
    return w.HBox(list(children), layout=w.Layout(align_items="flex-start", margin="2px 0"))


class _Rows(w.VBox):
    """An editable list of rows of one kind, with an "add" button; ``on_change`` fires on any edit."""

    def __init__(self, title: str, make_row: Callable[[Any], w.Widget], items: Sequence[Any], new_item: Callable[[], Any], on_change: Callable[[], None]) -> None:
        self._make_row = make_row
        self._new_item = new_item
        self._on_change = on_change
        self.rows: list[w.Widget] = []
        self._list = w.VBox()
        add = w.Button(description=f"+ {title}", layout=w.Layout(width="auto"))
        add.add_class("wb-add-" + title.replace(" ", "-"))
        add.on_click(lambda _b: self.add(self._new_item()))
        super().__init__([self._list, add])
        for item in items:
            self.add(item, notify=False)

    def add(self, item: Any, notify: bool = True) -> None:
        row = self._make_row(item)
        remove = w.Button(description="✕", tooltip="remove", layout=w.Layout(width="32px"))
        box = _row_box([row, remove])
        remove.on_click(lambda _b: self._remove(box, row))
        self.rows.append(row)
        self._list.children = (*self._list.children, box)
        if notify:
            self._on_change()

    def _remove(self, box: w.Widget, row: w.Widget) -> None:
        self.rows.remove(row)
        self._list.children = tuple(c for c in self._list.children if c is not box)
        self._on_change()


class _PromptRow(w.VBox):
    def __init__(self, prompt: PromptSpec, on_change: Callable[[], None]) -> None:
        self.original = prompt
        self.name = w.Text(value=prompt.name, description="name", layout=w.Layout(width="320px"))
        self.template = w.Textarea(value=prompt.template or "", layout=w.Layout(width="560px", height="110px"))
        self.check = w.HTML()
        for widget in (self.name, self.template):
            widget.observe(lambda _c: (self._validate(), on_change()), names="value")
        super().__init__([self.name, self.template, self.check])
        self._validate()

    def _validate(self) -> None:
        try:
            check_template(self.template.value)
            self.check.value = '<span class="wb-ok">✓ uses {question}' + (" and {context}" if "{context}" in self.template.value else "") + "</span>"
        except ValueError as exc:
            self.check.value = error_html(str(exc))

    def value(self) -> dict[str, Any]:
        data = self.original.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        data.pop("file", None)
        return {**data, "name": self.name.value.strip(), "template": self.template.value}


class _ModelRow(w.HBox):
    def __init__(self, model: ModelSpec, on_change: Callable[[], None]) -> None:
        self.original = model
        self.model_field = w.Combobox(value=model.id, options=[GEMMA_ID, SMOLLM2_ID, "openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest", "ollama:llama3.2"],
                                   description="model", ensure_option=False, layout=w.Layout(width="360px"))
        tokens = model.params.max_tokens  # the range takes in the spec's value: a slider clamps one outside it
        self.max_tokens = w.IntSlider(value=tokens, min=min(8, tokens), max=max(1024, tokens), step=8, description="max tokens", continuous_update=False)
        self.check = w.HTML()
        for widget in (self.model_field, self.max_tokens):
            widget.observe(lambda _c: (self._validate(), on_change()), names="value")
        super().__init__([self.model_field, self.max_tokens, self.check])
        self._validate()

    def _validate(self) -> None:
        try:
            check_model_id(self.model_field.value.strip())
            self.check.value = ""
        except WorkbenchError as exc:
            self.check.value = error_html(str(exc))

    def value(self) -> dict[str, Any]:
        data = self.original.model_dump(mode="json")  # with its None values: ``timeout_s: null`` means no time limit
        data["id"] = self.model_field.value.strip()
        data["params"] = {**data.get("params", {}), "max_tokens": self.max_tokens.value}
        return data


class _ChunkerRow(w.HBox):
    def __init__(self, chunker: ChunkerSpec, on_change: Callable[[], None]) -> None:
        self.strategy = w.Dropdown(options=_STRATEGIES, value=chunker.strategy, description="chunker", layout=w.Layout(width="220px"))
        self.size = w.IntSlider(value=chunker.size, min=16, max=max(4000, chunker.size), step=16, description="size", continuous_update=False)
        self.overlap = w.IntSlider(value=chunker.overlap, min=0, max=max(1000, chunker.overlap), step=8, description="overlap", continuous_update=False)
        for widget in (self.strategy, self.size, self.overlap):
            widget.observe(lambda _c: on_change(), names="value")
        super().__init__([self.strategy, self.size, self.overlap])

    def value(self) -> dict[str, Any]:
        return {"strategy": self.strategy.value, "size": self.size.value, "overlap": self.overlap.value}


class _RetrievalRow(w.HBox):
    def __init__(self, retrieval: RetrievalSpec, on_change: Callable[[], None]) -> None:
        self.original = retrieval
        self.k = w.IntSlider(value=retrieval.k, min=1, max=max(20, retrieval.k), description="top k", continuous_update=False)
        self.search = w.Dropdown(options=["similarity", "mmr"], value=retrieval.search, description="search", layout=w.Layout(width="220px"))
        self.embedding = w.Combobox(value=retrieval.embedding, options=[MINILM_ID], description="embedding", ensure_option=False, layout=w.Layout(width="320px"))
        # two settings that differ in what the row does not show (the embedding model, mmr_lambda) need names of their own
        self.name = w.Text(value=retrieval.name or "", placeholder=retrieval.label, description="name", layout=w.Layout(width="220px"))
        for widget in (self.k, self.search, self.embedding, self.name):
            widget.observe(lambda _c: on_change(), names="value")
        super().__init__([self.k, self.search, self.embedding, self.name])

    def value(self) -> dict[str, Any]:
        data = self.original.model_dump(mode="json")
        data.update(k=self.k.value, search=self.search.value, embedding=self.embedding.value.strip())
        if data["search"] == "mmr" and data["fetch_k"] <= data["k"]:
            # the row shows no fetch_k: MMR needs more candidates than it keeps, so it gets what the refusal advises
            data["fetch_k"] = self.original.model_copy(update={"k": data["k"]}).advised_fetch_k
        name = self.name.value.strip()
        return {**data, "name": name} if name else {k: v for k, v in data.items() if k != "name"}


def _default_spec(base_dir: Path) -> wb.ExperimentSpec:
    return wb.ExperimentSpec.from_dict(
        {
            "name": "my-experiment",
            "dataset": {"path": "datasets/eval.jsonl"},
            "corpus": {"builtin": PYTHON_REFERENCE},
            "prompts": [{"name": "grounded", "template": _DEFAULT_TEMPLATE}],
            "models": [{"id": GEMMA_ID}],
            "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
        },
        base_dir=base_dir,
    )


def _candidates(base: Path, patterns: Sequence[str], dirs: bool = False) -> list[str]:
    """Dataset files / corpus folders next to the experiment (``.`` and ``../datasets``), relative to it."""
    found: list[str] = []
    for folder in (base, base.parent / "datasets", base / "datasets"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            ok = path.is_dir() if dirs else any(path.match(p) for p in patterns)
            if ok and not path.name.startswith("."):
                rel = Path("..") / path.relative_to(base.parent) if not path.is_relative_to(base) else path.relative_to(base)
                found.append(rel.as_posix())
    return list(dict.fromkeys(found))


# the most files of documents the corpus drop-down offers (an export of 500 JSONL files next to the experiment would
# bury its folders); any other is typed
_MAX_CORPUS_FILES = 20


def _corpus_candidates(base: Path) -> list[str]:
    """Corpus folders and files of documents next to the experiment (not datasets: ``reads_as_documents``), sorted,
    relative to it; the folders all, the files up to ``_MAX_CORPUS_FILES``."""
    folders = _candidates(base, [], dirs=True)
    files = [p for p in _candidates(base, ["*"]) if reads_as_documents(base / p)]
    return sorted([*folders, *files[:_MAX_CORPUS_FILES]])


# under the count of a grid the RunPanel and workbench run refuse unasked, so it is seen before Run is pressed
_LARGE_NOTE = (f'<div class="wb-error">More than {LARGE_GRID:,} variants: a RunPanel runs them only when built with '
               "allow_large_grid=True, workbench run only with --yes — cut an axis, or ask for them by name</div>")


def _answering(variants: Sequence[Any]) -> int:
    """How many of the variants answer questions (a retrieval-only variant, with no models, makes no model calls)."""
    return sum(1 for v in variants if v.generates)


def _file_version(path: Path) -> tuple[int, int] | None:
    """The file's modification time and size (None when it cannot be read: loading it then says why)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class GridBuilder(w.VBox):
    """Build an experiment in a notebook: see how many variants and model calls it means, then save it as YAML.

    Args:
        spec: the experiment to start from (e.g. ``wb.load_experiment(...)``); default: a one-variant grid.
        base_dir: the folder relative paths are resolved from (default: the spec's folder).
        save_path: where ``Save`` writes the YAML (default: ``<name>.yaml`` next to the experiment, so its relative
            dataset and corpus paths stay right; it follows a rename of the experiment).
        dataset: the questions in memory (a DataFrame or ``Dataset``), counted while the dataset field is empty, for a
            spec without a dataset file (hand the same to the ``RunPanel``).

    ``spec()`` returns the edited ``ExperimentSpec`` (hand ``builder.spec`` to a ``RunPanel``). The ``columns`` fields
    under the dataset and the corpus file hold their ``columns:`` (``question: prompt, reference: expected_answer``); a
    file picked that calls our fields as another tool does is offered, in the field's drop-down, the mapping reading it.
    """

    def __init__(self, spec: wb.ExperimentSpec | None = None, *, base_dir: str | Path | None = None, save_path: str | Path | None = None,
                 dataset: Any = None) -> None:
        spec = spec.validated() if spec is not None else None  # edited with model_copy(update=...), it was validated by no one
        self._given = None if dataset is None else len(dataset if isinstance(dataset, wb.Dataset) else wb.load_dataset(dataset))
        base = Path(base_dir).resolve() if base_dir else (spec.base_dir if spec is not None else Path.cwd())
        self._base = base
        self._start = spec or _default_spec(base)
        s = self._start
        self._dataset_cache: dict[tuple[str, int | None, tuple[int, int] | None], int] = {}
        # each corpus folder and glob's check, once: its error, or None (walking a 10,000-file export to say no file matches
        # took 4 s, again on every edit of any field of the form)
        self._corpus_checked: dict[tuple[Any, ...], str | None] = {}
        self.name = w.Text(value=s.name, description="name")
        # an experiment without a dataset or corpus file (given to wb.run in memory) starts with the field empty
        self.dataset = w.Combobox(value=s.dataset.path if s.dataset else "", options=_candidates(base, ["*.jsonl", "*.csv"]), description="dataset",
                                  ensure_option=False, layout=w.Layout(width="460px"))
        limit = s.dataset.limit or 0 if s.dataset else 0
        self.limit = w.BoundedIntText(value=limit, min=0, max=max(1_000_000, limit), description="limit", tooltip=_LIMIT_TIP,
                                      layout=w.Layout(width="180px"))
        corpus_value = s.corpus.builtin or s.corpus.path or "" if s.corpus else ""
        self.corpus = w.Combobox(value=corpus_value, options=[PYTHON_REFERENCE, *_corpus_candidates(base)], description="corpus",
                                 ensure_option=False, layout=w.Layout(width="460px"))
        # read when typed (Enter, or leaving the field), not at each key: every new pattern walks the corpus folder
        self.glob = w.Text(value=s.corpus.glob if s.corpus else "**/*.md", description="files", layout=w.Layout(width="220px"),
                           continuous_update=False)
        # a dataset or corpus file's own column names (columns:), with the mapping a file calling our fields as another
        # tool does needs offered in the drop-down as soon as it is picked (its YAML was edited by hand)
        self.dataset_columns = self._columns_field(s.dataset.columns if s.dataset else {})
        self.corpus_columns = self._columns_field(s.corpus.columns if s.corpus else {})
        self._offered: dict[str, str] = {}
        changed = self._refresh
        self.prompts = _Rows("prompt", lambda p: _PromptRow(p, changed), s.prompts,
                             lambda: PromptSpec(name=f"prompt{len(self.prompts.rows) + 1}", template=_DEFAULT_TEMPLATE), changed)
        # as the file holds them: a llamacpp model written relative to the experiment's folder is shown, and saved, so
        models = s.to_dict(base)["models"]
        # routers are kept as in the file (not edited here), at their place among the models
        self._routers = tuple((i, m) for i, m in enumerate(models) if "router" in m)
        plain = [ModelSpec.model_validate(m) for m in models if "router" not in m]
        self.models = _Rows("model", lambda m: _ModelRow(m, changed), plain, lambda: ModelSpec(id=GEMMA_ID), changed)
        self.chunkers = _Rows("chunker", lambda c: _ChunkerRow(c, changed), s.chunkers, lambda: ChunkerSpec(strategy="recursive"), changed)
        self.retrieval = _Rows("retrieval", lambda r: _RetrievalRow(r, changed), s.retrieval, lambda: RetrievalSpec(), changed)
        self.summary = w.HTML()
        self.summary.add_class("wb-grid-summary")
        self.save_path = w.Text(value=str(save_path or base / f"{s.name}.yaml"), description="save as", layout=w.Layout(width="460px"))
        self.save_button = w.Button(description="Save YAML", icon="save")
        self.save_button.add_class("wb-save-button")
        self.save_status = w.HTML()
        self.save_button.on_click(lambda _b: self._save_clicked())
        self.dataset.observe(lambda _c: self._offer("dataset"), names="value")
        self.corpus.observe(lambda _c: self._offer("corpus"), names="value")
        self._offer("dataset")
        self._offer("corpus")
        for widget in (self.name, self.dataset, self.limit, self.dataset_columns, self.corpus, self.glob, self.corpus_columns):
            widget.observe(lambda _c: changed(), names="value")
        if save_path is None:
            self.name.observe(self._follow_name, names="value")
        sections = w.Accordion(children=[self.prompts, self.models, self.chunkers, self.retrieval], selected_index=None)
        for i, title in enumerate(["Prompt templates", "Models", "Chunkers", "Retrieval"]):
            sections.set_title(i, title)
        super().__init__([
            w.HTML(STYLE + "<b>Grid builder</b>"),
            w.HBox([self.name]),
            w.HBox([self.dataset, self.limit]),
            w.HBox([self.dataset_columns]),
            w.HBox([self.corpus, self.glob]),
            w.HBox([self.corpus_columns]),
            sections,
            self.summary,
            w.HBox([self.save_path, self.save_button]),
            self.save_status,
        ])
        self.add_class("wb-grid-builder")
        self._refresh()

    @staticmethod
    def _columns_field(columns: dict[str, str]) -> w.Combobox:
        # read when typed (Enter, or leaving the field): a mapping typed half-way is no mapping yet
        return w.Combobox(value=columns_text(columns), options=[], description="columns", ensure_option=False, tooltip=_COLUMNS_TIP,
                          continuous_update=False, layout=w.Layout(width="460px"))

    def _offer(self, kind: str) -> None:
        """Offer in the dataset's or corpus's ``columns`` drop-down the mapping its file needs (``suggested_columns``:
        its first line alone read), shown as the field's placeholder too; a field with nothing to map is turned off."""
        field, path = (self.dataset_columns, self.dataset.value.strip()) if kind == "dataset" else (self.corpus_columns, self.corpus.value.strip())
        mapped = is_documents_file(path) if kind == "corpus" else bool(path)
        field.disabled = not mapped
        offered = columns_text(suggested_columns(self._base / path, kind)) if mapped else ""  # type: ignore[arg-type]
        self._offered[kind] = offered
        field.options = [offered] if offered else []
        field.placeholder = offered or _NO_COLUMNS[kind]

    def _columns(self, kind: str) -> dict[str, str]:
        """The dataset's or corpus's ``columns`` as typed.

        Raises:
            SpecError: the text is no mapping (one line naming the field).
        """
        field = self.dataset_columns if kind == "dataset" else self.corpus_columns
        try:
            return columns_from_text(field.value)
        except DataError as exc:
            raise SpecError(f"grid builder: {kind}.{exc}") from None

    # -- reading the form ------------------------------------------------------------------------------------------

    def _data(self) -> dict[str, Any]:
        """The spec's fields with the form's values over them: a field the form has no control for is kept as it was."""
        data = self._start.to_dict(self._base)
        data.update(
            name=self.name.value.strip(),
            dataset=self._dataset(data.get("dataset")),
            corpus=self._corpus(),
            prompts=[r.value() for r in self.prompts.rows],
            models=self._models(),
            chunkers=[r.value() for r in self.chunkers.rows],
            retrieval=[r.value() for r in self.retrieval.rows],
        )
        return data

    def _dataset(self, start: dict[str, Any] | None) -> dict[str, Any] | None:
        """The dataset as the form has it: none when the field is empty and the experiment had none (it is in memory)."""
        path = self.dataset.value.strip()
        if not path and start is None:
            return None
        return {**(start or {}), "path": path, "limit": self.limit.value or None, "columns": self._columns("dataset") if path else {}}

    def _corpus(self) -> dict[str, Any] | None:
        corpus, glob = self.corpus.value.strip(), self.glob.value.strip() or "**/*.md"
        if not corpus and self._start.corpus is None:  # in memory, as the experiment started
            return None
        if corpus == PYTHON_REFERENCE:
            return {"builtin": corpus, "glob": glob}
        started = self._start.corpus
        if is_documents_file(corpus):  # a file of documents is read whole: no glob picks its files; its own column names its field's
            return {"path": corpus, "columns": self._columns("corpus")}
        return {"path": corpus, "glob": glob, "exclude": list(started.exclude) if started is not None else []}

    def _models(self) -> list[dict[str, Any]]:
        """The model rows, with each router back at its place in the spec's list (the order of the variants)."""
        models = [r.value() for r in self.models.rows]
        for i, entry in self._routers:
            models.insert(min(i, len(models)), entry)
        return models

    def spec(self) -> wb.ExperimentSpec:
        """The experiment as edited.

        Raises:
            SpecError: one line naming the field that is wrong.
        """
        built = wb.ExperimentSpec.from_dict(self._data(), base_dir=self._base, source="grid builder")
        return built.with_prompt_files_of(self._start)  # saved, a prompt read from a file and left as it was names it again

    def questions(self) -> int:
        """How many questions a run evaluates (the dataset's cases, up to ``limit``)."""
        spec = self.spec()
        if spec.dataset is None and self._given is not None:
            return self._given
        if spec.dataset is None:
            return len(load_spec_dataset(spec))  # one line: it names no dataset
        path = spec.resolve(spec.dataset.path)
        key = (str(path), spec.dataset.limit, _file_version(path))  # a file edited since is counted again
        if key not in self._dataset_cache:
            self._dataset_cache[key] = len(load_spec_dataset(spec))
        return self._dataset_cache[key]

    def _check_corpus(self, spec: wb.ExperimentSpec) -> None:
        """A corpus folder that is missing, or that the glob picks no file of, or a file of documents whose columns need
        mapping (``columns:``), is said under the form, not first when Run is pressed (a folder's files are listed, not
        read; a file's first line or schema alone is: once per folder and glob, or file version, whatever the outcome)."""
        if spec.corpus is None or spec.corpus.path is None:
            return
        path = spec.resolve(spec.corpus.path)
        # a file of documents' column names too (its first line, or a Parquet schema), as its columns map them
        key = (str(path), spec.corpus.glob, spec.corpus.exclude, tuple(spec.corpus.columns.items()), _file_version(path))
        if key not in self._corpus_checked:
            try:
                check_corpus_folder(path, spec.corpus.glob, exclude=spec.corpus.exclude)
                check_documents_columns(path, spec.corpus.columns)
                self._corpus_checked[key] = None
            except DataError as exc:
                self._corpus_checked[key] = str(exc)
        error = self._corpus_checked[key]
        if error is not None:
            raise DataError(error) from None

    def variant_count(self) -> int:
        """How many variants the grid expands to."""
        return len(wb.expand_grid(self.spec()))


    def model_calls(self) -> int:
        """Generation calls a run makes, at most: answering variants x questions, twice for a router (the judge's
        calls aside)."""
        spec = self.spec()
        return plan_grid(spec, wb.expand_grid(spec), self.questions()).model_calls

    # -- actions ---------------------------------------------------------------------------------------------------

    def _follow_name(self, change: dict[str, Any]) -> None:
        """A renamed experiment is saved as ``<new name>.yaml``, not over the file of the name it had (the file of
        another experiment), unless the user typed a path of their own into ``save as``."""
        if self.save_path.value == str(self._base / f"{str(change['old']).strip()}.yaml"):
            self.save_path.value = str(self._base / f"{str(change['new']).strip()}.yaml")

    def _refresh(self) -> None:
        # questions in memory (no dataset file): the spec has no dataset to hold a limit, RunPanel(limit=) takes it
        self.limit.disabled = not self.dataset.value.strip()
        self.limit.tooltip = _MEMORY_LIMIT_TIP if self.limit.disabled else _LIMIT_TIP
        try:
            spec = self.spec()
            expanded = wb.expand_grid(spec)  # once: the spec is validated and the grid expanded per edit
            variants, answering, questions = len(expanded), _answering(expanded), self.questions()
            calls = plan_grid(spec, expanded, questions).model_calls
            self._check_corpus(spec)
        except (WorkbenchError, ValueError) as exc:
            self.summary.value = error_html(str(exc)) + self._offered_note()
            return
        # thousands grouped, as the plan of `workbench run --dry-run` writes them: 48,000 calls, not 48000
        grid = f"<b>{variants:,}</b> variant{'s' if variants != 1 else ''} × <b>{questions:,}</b> question{'s' if questions != 1 else ''}"
        retrieval_only = variants - answering
        # a router's strong model answers the questions it escalates too, and a judge adds calls of its own: both cost
        routed = "up to " if any(v.router is not None for v in expanded) else ""
        judged = " and the judge's" if spec.judge is not None and answering else ""
        self.summary.value = grid + (
            f" = {routed}<b>{calls:,}</b> model calls{judged}" if not retrieval_only
            else f" — {routed}<b>{calls:,}</b> model calls{judged} ({retrieval_only:,} retrieval-only variant{'s' if retrieval_only != 1 else ''}"
                 " with no models make none)"
        ) + (_LARGE_NOTE if variants > LARGE_GRID else "")

    def _offered_note(self) -> str:
        """Under an error: the mappings the columns drop-downs offer that the fields do not hold yet (picked there, the
        files are read with them)."""
        notes = [f"{kind} columns: pick {offered} in its drop-down" for kind, offered in self._offered.items()
                 if offered and (self.dataset_columns if kind == "dataset" else self.corpus_columns).value.strip() != offered]
        return "".join(f'<div class="wb-muted wb-columns-offered">{esc(note)}</div>' for note in notes)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the experiment as YAML (default: the ``save as`` field) and return its path."""
        return self.spec().save(Path(path or self.save_path.value))

    def _save_clicked(self) -> None:
        try:
            saved = self.save()
        except (WorkbenchError, ValueError, OSError) as exc:
            self.save_status.value = error_html(str(exc))
            return
        self.save_status.value = f'<span class="wb-ok">saved {esc(saved)}</span>'
