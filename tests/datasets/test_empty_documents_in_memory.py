"""Documents in memory with several empty texts (a scraped export's blank pages) are named at once, as a corpus folder's
empty files are: one was refused per run (drop it, run again, meet the next)."""

import numpy as np
import pandas as pd
import pytest

import workbench as wb


def test_every_empty_document_of_a_frame_is_counted_in_one_line() -> None:
    frame = pd.DataFrame({"id": ["travel", "blank-1", "leave", "blank-2", "blank-3", "blank-4", "blank-5"],
                          "text": ["Book economy.", "", "25 days.", "  \n", np.nan, "", " "]})
    with pytest.raises(wb.DataError) as info:
        wb.load_corpus(frame)
    assert str(info.value) == ("documents: document 1: empty document ('blank-1') — add its text, or leave it out (and 4 more empty "
                               "documents: 'blank-2', 'blank-3', 'blank-4', ...): keep the others, e.g. df[df['text'].fillna('').str.strip() != '']")


def test_empty_strings_and_langchain_documents_are_counted_too() -> None:
    from langchain_core.documents import Document

    with pytest.raises(wb.DataError, match=r"^documents: document 1: empty document \('doc-2'\) — add its text, or leave it out "
                                           r"\(and 1 more empty document: 'x'\)"):
        wb.load_corpus(["text", " ", Document(page_content="", id="x")])
