"""Evaluation data: cases, datasets, corpora and their loaders.

Where each part lives:

    _models         EvalCase, Dataset, Document, Corpus: the validated values, their hashes and document ids
    _pages          a document's pages, and the sources that name them (``handbook#page=12``)
    _formats        which format a corpus file is read as, and its text extracted once
    _pdf            the text layer of PDFs, where each page starts kept
    _html           the visible text of HTML pages
    _word           the body of Word documents, headings as markdown, lists numbered as Word numbers them
    _slides         the text of PowerPoint decks, a slide a page
    _office         what Word and PowerPoint files share: a package opened, or refused in one line (OfficeFormat)
    _text           a file's bytes read as text, whole or a line at a time (UTF-8, or one line naming the line and byte
                    of what is not)
    _columns        a team's own column names for a file's fields (columns=): checked, and applied to a header or a line
    _cases          one case of a row: its fields checked, its own fields kept as metadata, the caps, unique ids
    _dataset_files  JSONL and CSV files parsed a line at a time (json_lines, csv_records: cases' and documents'), and
                    records (a CSV file's rows, a DataFrame's) read into cases
    _frames         what datasets and corpora check of a DataFrame (a column twice, ids in the index)
    _dataset        load_dataset
    _paths          paths as typed (either Unicode form), and what to do about one that does not exist (one written from
                    the current folder, not the experiment's)
    _folders        corpus folders: glob, exclude and hidden files, the folder's check, the fixes suggested; which
                    files hold documents a line or a row (is_documents_file, reads_as_documents)
    _suggest        the columns: mapping a file calling our fields as another tool does needs, read from its first line
    _corpus         load_corpus: the built-in reference, documents in memory, a file of documents (JSONL, CSV,
                    Parquet), a folder's files as documents
"""

from workbench.datasets._columns import DATASET_COLUMNS, DOCUMENT_COLUMNS, column_map_problem
from workbench.datasets._corpus import check_documents_columns, load_corpus, python_reference_corpus
from workbench.datasets._dataset import check_limit, load_dataset
from workbench.datasets._dataset_files import csv_header, other_separator
from workbench.datasets._folders import (
    PYTHON_REFERENCE, check_corpus_folder, is_documents_file, left_out_fix, pattern_inside_folder, reads_as_documents,
)
from workbench.datasets._formats import FORMAT_PACKAGES, Extracted, TextCache, file_format
from workbench.datasets._models import REFUSAL_CATEGORIES, Corpus, Dataset, Document, EvalCase, document_id
from workbench.datasets._pages import (
    PAGE_STARTS,
    Source,
    is_relevant,
    labels_covering,
    page_starts,
    page_word,
    pages_between,
    pages_label_problem,
)
from workbench.datasets._paths import cwd_relative_fix, missing_path_fix, on_disk
from workbench.datasets._suggest import columns_from_text, columns_text, suggested_columns
from workbench.datasets._text import read_text

__all__ = [
    "DATASET_COLUMNS",
    "DOCUMENT_COLUMNS",
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
    "check_documents_columns",
    "check_limit",
    "column_map_problem",
    "columns_from_text",
    "columns_text",
    "csv_header",
    "cwd_relative_fix",
    "document_id",
    "file_format",
    "is_documents_file",
    "is_relevant",
    "labels_covering",
    "left_out_fix",
    "load_corpus",
    "load_dataset",
    "missing_path_fix",
    "on_disk",
    "other_separator",
    "page_starts",
    "page_word",
    "pages_between",
    "pages_label_problem",
    "pattern_inside_folder",
    "python_reference_corpus",
    "read_text",
    "reads_as_documents",
    "suggested_columns",
]
