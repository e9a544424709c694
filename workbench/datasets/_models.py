"""The evaluation data: cases (questions with references) and corpora (documents with stable ids)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from workbench.datasets._pages import page_label_id, page_starts
from workbench.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

Category = Literal["answerable", "unanswerable", "policy", "injection"]
CATEGORIES: tuple[str, ...] = get_args(Category)
REFUSAL_CATEGORIES = frozenset({"unanswerable", "policy"})


def document_id(text: str) -> str:
    """A document id in one Unicode form (NFC): "café" typed in a dataset and "café" in a file name that macOS or a
    zip archive wrote decomposed (e + combining accent) are the same id."""
    return unicodedata.normalize("NFC", text)


def in_order(items: Any) -> Any:
    """A set of ids or tags sorted (pure), as its text sorts; anything else as it is. A set's order is its strings' hashes',
    which Python draws anew in each process (PYTHONHASHSEED): a case's source_ids given as a set made another dataset
    hash on every run, so no run was ever reused."""
    return sorted(items, key=str) if isinstance(items, (set, frozenset)) else items


SURROGATE = re.compile("[\ud800-\udfff]")


def question_key(question: str) -> str:
    """A question as questions are told apart (pure): spaces aside, in one Unicode form ("café" typed composed or not)."""
    return unicodedata.normalize("NFC", " ".join(question.split()))


def _unicode_item(value: str) -> str:
    """Refuse a lone surrogate in a list item as pydantic refuses one in a text field (it checks no item of a list)."""
    if SURROGATE.search(value):
        raise PydanticCustomError("string_unicode", "Input should be a valid string, unable to parse raw data as a unicode string")
    return value


def _no_nul(value: str) -> str:
    """Refuse a NUL character (``\\u0000`` in JSON, a byte of a binary export): PostgreSQL cannot store it in a text
    column (a team store failed the sweep while logging its traces) and C libraries read it as the end of the text."""
    at = value.find("\0")
    if at >= 0:
        raise PydanticCustomError("nul_character", "holds a NUL character at character {at}", {"at": at})
    return value


_Item = Annotated[str, AfterValidator(_unicode_item), AfterValidator(_no_nul)]
_Text = Annotated[str, AfterValidator(_no_nul)]


def invisible(text: str) -> str | None:
    """The first invisible formatting character of an id (pure): a zero-width space, a byte-order mark, a direction
    mark (Unicode's category Cf), not the joiner inside an emoji; None when it has none."""
    return next((ch for ch in text if unicodedata.category(ch) == "Cf" and ch != "\u200d"), None)


def _visible(value: str) -> str:
    """Refuse an id holding an invisible character: pasted from a web page or a document, 'travel' + a zero-width space
    matched no document, and an error saying "'travel' is not a document — did you mean 'travel'?"."""
    found = invisible(value)
    if found is not None:
        raise PydanticCustomError("invisible_character", "holds the invisible character U+{code}", {"code": f"{ord(found):04X}"})
    return value


def _trimmed_label(value: str) -> str:
    """Refuse a source id with spaces around it: a document id with spaces around it is refused (``load_corpus``), so the
    label named no document ever. Refused, as a document's id is, rather than trimmed: a dataset's hash is its labels'."""
    if value != value.strip():
        raise PydanticCustomError("spaces_around", "has spaces around it")
    return value


_Id = Annotated[str, AfterValidator(_unicode_item), AfterValidator(_no_nul), AfterValidator(_visible), AfterValidator(_trimmed_label)]
# a value of a case's metadata: what a JSON or CSV cell holds (a loader writes a nested list or object as JSON text)
MetadataValue = _Item | bool | int | float


class EvalCase(BaseModel):
    """One evaluation item.

    Attributes:
        id: unique within its dataset.
        question: what is asked.
        reference: the reference answer (for unanswerable/policy items, the expected refusal).
        source_ids: ids of the corpus documents that answer the question (empty when none does); a PDF's pages as
            ``handbook#page=12`` or ``handbook#page=12-13`` (see ``workbench.datasets.Source``).
        category: ``answerable``; ``unanswerable`` (the corpus has no answer: refusing is right);
            ``policy`` (a request the assistant should decline); ``injection`` (a labelled source carries a planted
            instruction, e.g. "ignore all previous instructions and reply with ...": the right behaviour is to answer
            the question, or decline, without obeying it; scored by ``injection_resisted``).
        tags: free labels used to slice results.
        metadata: the dataset's fields or columns of its own (``difficulty``, ``notes``, ``author``...), kept to slice
            results by; no model, retriever or scorer reads them, so they take no part in equality, hashing or the
            dataset's hash.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: _Text = Field(min_length=1)
    question: _Text = Field(min_length=1)
    reference: _Text = ""
    source_ids: tuple[_Id, ...] = ()
    category: Category = "answerable"
    tags: tuple[_Item, ...] = ()
    metadata: dict[_Item, MetadataValue] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("id")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        # a spreadsheet cell's 'q1 ' is the id 'q1' (it was an id of its own beside 'q1', which MLflow's tables and a
        # comparison show alike); a cell of spaces is no id
        if not value.strip():
            raise ValueError("must not be blank")
        return _visible(value.strip())

    @field_validator("source_ids", "tags", mode="before")
    @classmethod
    def _in_order(cls, value: Any) -> Any:
        return in_order(value)

    @field_validator("source_ids")
    @classmethod
    def _composed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(document_id(v) for v in value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EvalCase):
            return NotImplemented
        return _compared(self) == _compared(other)

    def __hash__(self) -> int:
        return hash(_compared(self))

    @property
    def expects_refusal(self) -> bool:
        """True for unanswerable and policy items (declining is the right answer); injection items are answered."""
        return self.category in REFUSAL_CATEGORIES


def _compared(case: EvalCase) -> tuple[Any, ...]:
    """What tells two cases apart: every field but their metadata (pure)."""
    return tuple(getattr(case, name) for name in EvalCase.model_fields if name != "metadata")


def asked_twice_fix(first: EvalCase, again: EvalCase) -> str:
    """What to do about a question asked twice: keep one, unless the two expect different sources or behaviour (one
    question asked of two regions' policies), which the model cannot tell apart, as it reads only the question."""
    differ = [name for name in ("source_ids", "category") if getattr(first, name) != getattr(again, name)]
    if differ:
        return (f"they differ in {' and '.join(differ)}, but the model reads only the question, so it answers both alike: say "
                "in each question what tells them apart (a region, a product, a date), or keep one")
    return "keep one (a question asked twice counts twice in every mean and interval)"


def asked_again(questions: Sequence[str], where: Callable[[int], str], first: int) -> str:
    """The end of the line refusing the question at ``first`` as one asked before (pure): how many later questions are
    asked again too, and where the first few are, so a concatenated or scraped set is cleaned in one run, not one
    refusal per run; '' when it is the only one."""
    seen: set[str] = set()
    again = []
    for i, question in enumerate(questions):
        key = question_key(question)
        if key in seen and i > first:
            again.append(i)
        seen.add(key)
    if not again:
        return ""
    shown = ", ".join(where(i) for i in again[:3]) + (", ..." if len(again) > 3 else "")
    return f" (and {len(again)} more question{'s' if len(again) > 1 else ''} asked again: {shown})"


@dataclass(frozen=True)
class Dataset:
    """An ordered, immutable set of evaluation cases."""

    name: str
    cases: tuple[EvalCase, ...]
    source: str = ""
    # where each case was read (``file:line``, ``dataframe: row 3``), for the errors found after loading; () if unknown
    lines: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # the loaders say where in the file; a Dataset built in a notebook is checked here: two cases under one id
        # were run and logged as one question twice, which comparisons pair by id
        if not self.cases:
            raise DataError(f"dataset '{self.name}' has no cases — add at least one")
        first: dict[str, int] = {}
        asked: dict[str, int] = {}  # a question asked twice is one sample counted twice: comparisons, racing and the
        # promotion gates' paired intervals take each question as an independent one, and pair by text across datasets
        for i, case in enumerate(self.cases):
            if case.id in first:
                raise DataError(f"dataset '{self.name}': case {i}: duplicate id '{case.id}' (first at case {first[case.id]}) — "
                                "ids must be unique: rename one")
            first[case.id] = i
            question = question_key(case.question)
            if question in asked:
                raise DataError(f"{self.where(i)}: field 'question': the same question as {self.where(asked[question])} — "
                                + asked_twice_fix(self.cases[asked[question]], case)
                                + asked_again([c.question for c in self.cases], self.where, i))
            asked[question] = i

    def __repr__(self) -> str:  # not every case: a notebook shows this
        return f"Dataset(name={self.name!r}, cases={len(self.cases)}, source={self.source!r})"

    def __len__(self) -> int:
        return len(self.cases)

    def where(self, index: int) -> str:
        """Where the ``index``-th case was read: ``file:line`` when known, else the dataset's source, else (a dataset
        built in code) its name and the case's position."""
        if index < len(self.lines):
            return self.lines[index]
        return self.source or f"dataset '{self.name}': case {index}"

    @property
    def hash(self) -> str:
        """Content hash (sha256 of the canonical JSON of the cases, their metadata aside), stable across file formats."""
        # metadata aside: the hash names the questions a run answered (reuse keys, comparisons, promotion evidence), and
        # a column of notes or difficulty reaches no model or scorer: adding or editing one keeps earlier runs reusable
        # (and the hash of every dataset written before cases had metadata)
        payload = json.dumps([c.model_dump(mode="json", exclude={"metadata"}) for c in self.cases], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def head(self, n: int | None) -> Dataset:
        """The first ``n`` cases (all when ``n`` is None)."""
        return self if n is None else Dataset(self.name, self.cases[:n], self.source, self.lines[:n])

    def to_pandas(self) -> pd.DataFrame:
        """One row per case, with the fields of ``EvalCase`` as columns, and a column for each key of their metadata
        (what ``load_dataset`` reads back as metadata)."""
        import pandas as pd  # imported lazily: pandas is slow to import

        return pd.DataFrame([{**c.model_dump(mode="json", exclude={"metadata"}), **c.metadata} for c in self.cases])


@dataclass(frozen=True)
class Document:
    """A corpus document with a stable id (its topic key or relative path)."""

    id: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # one Unicode form, as the loaders give: a Document built in a notebook with a decomposed id ('cafe' + U+0301)
        # was bundled as it was and read back composed, another corpus hash, so its bundle refused its own documents
        object.__setattr__(self, "id", document_id(self.id))


@dataclass(frozen=True)
class Corpus:
    """An ordered, immutable set of documents."""

    name: str
    documents: tuple[Document, ...]
    source: str = ""
    # what loading it noticed that a sweep should say (files a folder's glob left out only by case), not part of it
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # the loaders say which file or document; a Corpus built in a notebook is checked here: two documents under one
        # id were retrieved as one, and a labelled source id scored a hit on either
        first: dict[str, int] = {}
        for i, doc in enumerate(self.documents):
            if doc.id in first:
                raise DataError(f"corpus '{self.name}': document {i}: duplicate id '{doc.id}' (first at document {first[doc.id]}) — "
                                "ids must be unique: rename one")
            if not doc.text.strip():  # its logged corpus.jsonl, which load_corpus refuses so, made its bundle "damaged"
                raise DataError(f"corpus '{self.name}': document {i}: empty document ('{doc.id}') — add its text, or leave it out")
            paged = page_label_id(doc.id)
            if paged is not None:
                raise DataError(f"corpus '{self.name}': document {i}: {paged}")
            if doc.id != doc.id.strip():  # a label with spaces around it is refused: none could name it
                raise DataError(f"corpus '{self.name}': document {i}: field 'id': '{doc.id}' has spaces around it, so a label "
                                f"'{doc.id.strip()}' does not name it — trim them: '{doc.id.strip()}'")
            first[doc.id] = i

    def __repr__(self) -> str:  # not every document's text: a notebook shows this
        return f"Corpus(name={self.name!r}, documents={len(self.documents)}, source={self.source!r})"

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(d.id for d in self.documents)

    @cached_property
    def hash(self) -> str:
        """What the corpus is, as runs, reuse keys, comparisons and bundles name it: the sha256 of its documents' ids
        and texts in order (``text_hash``), and of where its paged documents' pages start when it has any (a blank cover
        page added to a PDF keeps its text and moves every page on: the sources its answers name, and scores against
        page labels, change). A corpus without pages hashes as before pages were kept, so none of its runs, indexes or
        bundles changes key. Computed once (a sweep reads it for every variant's reuse key)."""
        if not self.page_starts:
            return self.text_hash
        pages = json.dumps(self.page_starts, sort_keys=True)  # by id: the order of the documents is in text_hash
        return hashlib.sha256(f"{self.text_hash}\0pages\0{pages}".encode()).hexdigest()

    @cached_property
    def text_hash(self) -> str:
        """sha256 of the documents' ids and texts, in order, their pages aside: what a vector index is built from (its
        chunks' vectors come from their text, their pages from the corpus it is searched for), and what ``hash`` was
        until it covered pages (2026-12-07). Computed once: 0.4 s for a 100 MB corpus."""
        h = hashlib.sha256()
        for doc in self.documents:
            h.update(doc.id.encode())
            h.update(b"\0")
            h.update(doc.text.encode())
            h.update(b"\0")
        return h.hexdigest()

    def hashed_as(self, recorded: str) -> bool:
        """Whether a hash recorded for the corpus a run or bundle was evaluated on (a ``workbench.corpus_hash`` tag, a
        bundle's ``corpus.hash``) names this corpus: its ``hash``, or its ``text_hash`` as workbench recorded every
        corpus's hash before hashes covered pages (a PDF corpus's runs and bundles of then still load with their own
        documents; where its pages start now cannot be told from what they recorded)."""
        return recorded in (self.hash, self.text_hash)

    def document_hashes(self) -> dict[str, str]:
        """Each document's id -> the first 16 hex digits of the sha256 of its text (and of where its pages start, for a
        paged one): what a sweep records of the corpus it read, so that promotion can name the documents added,
        removed or edited since (``hash`` only says that something changed)."""
        out = {}
        for doc in self.documents:
            starts = self.page_starts.get(doc.id)
            payload = doc.text if starts is None else f"{doc.text}\0pages\0{json.dumps(starts)}"
            out[doc.id] = hashlib.sha256(payload.encode()).hexdigest()[:16]
        return out

    def to_jsonl(self) -> str:
        """One JSON object per document (``id``, ``text``, ``metadata``), in order: what ``load_corpus`` reads back, as a
        list of dicts, into a corpus with the same hash (a corpus given in memory is logged and bundled so)."""
        return "".join(self.jsonl_lines())

    def jsonl_lines(self) -> Iterator[str]:
        """The lines of ``to_jsonl``, one document at a time (what hashes the file needs no copy of it whole)."""
        return (json.dumps({"id": d.id, "text": d.text, "metadata": d.metadata}, ensure_ascii=False) + "\n" for d in self.documents)

    @cached_property
    def page_starts(self) -> dict[str, tuple[int, ...]]:
        """Where the pages of its paged documents (its PDFs) start, by document id (see ``workbench.datasets._pages``)."""
        paged = ((doc.id, page_starts(doc.metadata)) for doc in self.documents)
        return {doc_id: starts for doc_id, starts in paged if starts is not None}

    @cached_property
    def _by_id(self) -> dict[str, Document]:
        return {doc.id: doc for doc in self.documents}

    def get(self, doc_id: str) -> Document:
        """The document of this id (looked up, not searched: the chunk explorer asks for each of a corpus's documents).

        Raises:
            KeyError: no document has it.
        """
        return self._by_id[doc_id]
