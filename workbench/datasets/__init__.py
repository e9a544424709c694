"""Evaluation data: cases, datasets, corpora and their loaders."""

from workbench.datasets._corpus import load_corpus, python_reference_corpus
from workbench.datasets._dataset import check_limit, load_dataset
from workbench.datasets._dataset_files import csv_header, other_separator
from workbench.datasets._folders import PYTHON_REFERENCE, check_corpus_folder, left_out_fix, pattern_inside_folder
from workbench.datasets._formats import FORMAT_PACKAGES, Extracted, TextCache, file_format
from workbench.datasets._models import REFUSAL_CATEGORIES, Corpus, Dataset, Document, EvalCase, document_id
from workbench.datasets._pages import PAGE_STARTS, Source, is_relevant, labels_covering, page_starts, pages_between, pages_label_problem
from workbench.datasets._paths import missing_path_fix, on_disk
from workbench.datasets._text import read_text

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
