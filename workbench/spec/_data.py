"""Where the evaluation data comes from: the dataset file (``DatasetRef``) and the corpus (``CorpusRef``: a folder's
glob and exclude patterns, a file of documents, or the built-in reference)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from workbench.datasets import DATASET_COLUMNS, DOCUMENT_COLUMNS, column_map_problem, is_documents_file, pattern_inside_folder
from workbench.spec._base import _Spec
from workbench.spec._names import PathText


class DatasetRef(_Spec):
    """Where the evaluation cases come from; ``path`` is relative to the experiment file."""

    path: PathText = Field(description="a .jsonl or .csv file of cases (question, reference, source_ids, category), relative to the experiment file")
    limit: int | None = Field(default=None, ge=1, description="use only the first N cases")
    max_question_chars: int = Field(default=4000, ge=1, description="a longer question is refused (one line naming it)")
    max_reference_chars: int = Field(default=20000, ge=1, description="a longer reference answer is refused")
    # left out of the spec's dump when empty, as corpus.exclude is: an experiment without it keeps its hash
    columns: dict[str, str] = Field(
        default={}, exclude_if=lambda value: not value, json_schema_extra={"propertyNames": {"enum": list(DATASET_COLUMNS)}},
        description=f"the file's own column names: our field -> the file's column, e.g. {{question: prompt, reference: expected_answer}} "
                    f"(fields: {', '.join(DATASET_COLUMNS)}); the cases read, and their hash, are those of a file using our names")

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked_columns(value, DATASET_COLUMNS)


def _checked_columns(value: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """``value`` when it maps our ``fields`` to a file's columns, each column read as one field (see ``column_map_problem``)."""
    problem = column_map_problem(value, fields)
    if problem is not None:
        raise ValueError(problem)
    return value


def _pattern_in_corpus(value: str, example: str) -> str:
    """``value`` when it is a pattern inside the corpus folder (see ``pattern_inside_folder``)."""
    if not pattern_inside_folder(value):
        raise ValueError(f"'{value}' is not a pattern inside the corpus folder — give one relative to it, e.g. {example}")
    return value


ExcludePattern = Annotated[str, AfterValidator(lambda value: _pattern_in_corpus(value, "'drafts/**' or 'faq/empty.md'"))]


class CorpusRef(_Spec):
    """The documents to retrieve from: ``builtin: python-reference``, or a ``path`` to a folder of text, PDF, HTML, Word and PowerPoint files or to a .jsonl, .ndjson, .csv or .parquet file of documents."""

    builtin: Literal["python-reference"] | None = Field(default=None, description="a corpus that ships with the workbench (give it or path)")
    path: PathText | None = Field(default=None, description="a folder of documents, or a .jsonl, .ndjson, .csv or .parquet file of them (a 'text' field or column, 'id', the others their metadata), relative to the experiment file (give it or builtin)")
    glob: str = Field(default="**/*.md", description="which files of the folder are documents, relative to it (no '..'); hidden files and folders only when it names them")
    # left out of the spec's dump when empty: an experiment without it keeps its hash and its logged experiment.yaml
    exclude: tuple[ExcludePattern, ...] = Field(
        default=(), exclude_if=lambda value: not value,
        description="files the glob picks that are no documents, as patterns relative to the folder like glob's (e.g. 'faq/empty.md', "
                    "'**/*.png', 'drafts/**'); never read")
    columns: dict[str, str] = Field(
        default={}, exclude_if=lambda value: not value, json_schema_extra={"propertyNames": {"enum": list(DOCUMENT_COLUMNS)}},
        description=f"a file of documents' own column names: our field -> the file's column, e.g. {{id: doc_id, text: body}} (fields: "
                    f"{', '.join(DOCUMENT_COLUMNS)}); the documents read, and their hash, are those of a file using our names")

    @field_validator("glob")
    @classmethod
    def _relative_glob(cls, value: str) -> str:
        return _pattern_in_corpus(value, "'**/*.md' or 'docs/*.txt'")

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked_columns(value, DOCUMENT_COLUMNS)

    @model_validator(mode="after")
    def _one_source(self) -> CorpusRef:
        if (self.builtin is None) == (self.path is None):
            raise ValueError("give exactly one of 'builtin' or 'path'")
        if self.builtin is not None and self.glob != type(self).model_fields["glob"].default:  # it was ignored: every topic was read
            raise ValueError(f"glob picks files of a corpus folder; the built-in '{self.builtin}' corpus has none — remove glob")
        if self.builtin is not None and self.exclude:
            raise ValueError(f"exclude leaves files of a corpus folder out; the built-in '{self.builtin}' corpus has none — remove exclude")
        if self.builtin is not None and self.columns:
            raise ValueError(f"columns names a file of documents' columns; the built-in '{self.builtin}' corpus has none — remove columns")
        if self.path is not None and self.columns and not is_documents_file(self.path):
            raise ValueError(f"columns names the columns of a .jsonl, .ndjson, .csv or .parquet file of documents; '{self.path}' is a "
                             "folder of files, each one document — remove columns")
        if self.path is not None and is_documents_file(self.path):  # every document of the file is read
            if self.glob != type(self).model_fields["glob"].default:
                raise ValueError(f"glob picks files of a corpus folder; '{self.path}' is a file of documents, each one read — remove glob")
            if self.exclude:
                raise ValueError(f"exclude leaves files of a corpus folder out; '{self.path}' is a file of documents, each one read — remove exclude")
        return self
