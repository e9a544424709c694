"""Evaluation data: cases, datasets, corpora and their loaders."""

from workbench.datasets._formats import FORMAT_PACKAGES, Extracted, TextCache, file_format
from workbench.datasets._loaders import (
    PYTHON_REFERENCE,
    check_corpus_folder,
    check_limit,
    csv_header,
    left_out_fix,
    load_corpus,
    load_dataset,
    missing_path_fix,
    on_disk,
    other_separator,
    pattern_inside_folder,
    python_reference_corpus,
    read_text,
)
from workbench.datasets._models import REFUSAL_CATEGORIES, Corpus, Dataset, Document, EvalCase, document_id
from workbench.datasets._pages import PAGE_STARTS, Source, is_relevant, labels_covering, page_starts, pages_between, pages_label_problem

__all__ = [
    "FORMAT_PACKAGES",
    "PAGE_STARTS",
    "PYTHON_REFERENCE",
    "REFUSAL_CATEGORIES",
    "Corpus",
    "Dataset",
    "Document",
    "EvalCase",
    "Extracted",
    "Source",
    "TextCache",
    "check_corpus_folder",
    "check_limit",
    "csv_header",
    "document_id",
    "file_format",
    "is_relevant",
    "labels_covering",
    "left_out_fix",
    "load_corpus",
    "load_dataset",
    "missing_path_fix",
    "on_disk",
    "other_separator",
    "page_starts",
    "pages_between",
    "pages_label_problem",
    "pattern_inside_folder",
    "python_reference_corpus",
    "read_text",
]
