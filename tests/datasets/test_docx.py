"""Word documents in a corpus folder: their body as markdown-like text (sections, lists, tables), one-line refusals of
the Word files it cannot read. Every file is written at test time (python-docx, or byte by byte)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from docx.document import Document as WordDocument
from docx.enum.style import WD_STYLE_TYPE

from workbench.datasets import load_corpus
from workbench.errors import DataError
from workbench.pipeline import chunk_document
from workbench.spec import ChunkerSpec

from tests.datasets._docx import add_notes, append_xml, as_strict, docx_bytes, element, ole_bytes, with_main_content_type
from tests.datasets._files import corpus_of


def handbook(document: WordDocument) -> None:
    document.sections[0].header.paragraphs[0].text = "CONFIDENTIAL - page header"
    document.sections[0].footer.paragraphs[0].text = "Printed copies are uncontrolled"
    document.add_heading("Travel", 1)
    document.add_paragraph("Book flights 14 days ahead.\nTrains in second class.")
    document.add_paragraph("Hotels", style="List Bullet")
    document.add_paragraph("Taxis", style="List Number")
    document.add_heading("Limits", 2)
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Item", "Limit"), ("Meals", "40 EUR"), ("", "")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    table.cell(1, 1).add_paragraph("a day")
    document.add_paragraph("")  # an empty paragraph Word users type for space
    document.add_paragraph("Ask finance first.")


HANDBOOK_TEXT = ("# Travel\n\nBook flights 14 days ahead.\nTrains in second class.\n\n- Hotels\n1. Taxis\n\n## Limits\n\n"
                 "Item | Limit\nMeals | 40 EUR a day\n\nAsk finance first.")


def test_a_word_documents_text_is_its_body_in_order_with_headings_lists_and_table_rows(tmp_path: Path) -> None:
    (doc,) = corpus_of(tmp_path, {"policies/Handbook.DOCX": docx_bytes(handbook)}).documents
    assert doc.id == "policies/Handbook"
    assert doc.text == HANDBOOK_TEXT  # no page header or footer, no empty paragraph or table row
    assert doc.metadata == {"path": "policies/Handbook.DOCX"}


def test_a_header_aware_chunker_sees_a_word_documents_sections(tmp_path: Path) -> None:
    (doc,) = corpus_of(tmp_path, {"handbook.docx": docx_bytes(handbook)}).documents
    chunks = chunk_document(doc, ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [c.header for c in chunks] == ["Travel", "Limits"]


def test_xml_comments_in_a_documents_body_are_not_its_text(tmp_path: Path) -> None:
    # a hand-edited or generated document.xml: lxml gives comments a tag that is no string, which failed the file
    from lxml import etree

    def commented(document: WordDocument) -> None:
        document.add_paragraph("Book flights 14 days ahead.")
        document.element.body.sectPr.addprevious(etree.Comment(" rows below are generated "))
        document.add_table(rows=1, cols=1).rows[0]._tr.append(etree.Comment(" a generated row "))
        document.add_paragraph("Ask finance first.")

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(commented)}).documents[0].text == "Book flights 14 days ahead.\n\nAsk finance first."


def test_the_owner_file_word_writes_beside_an_open_document_is_no_document(tmp_path: Path) -> None:
    # 162 bytes: the length of the user's name, the name, padding; neither a zip archive nor text
    owner = (bytes([5]) + b"alice").ljust(54, b" ") + bytes([5, 0]) + "alice".encode("utf-16-le").ljust(106, b"\0")
    corpus = corpus_of(tmp_path, {"handbook.docx": docx_bytes(handbook), "~$handbook.docx": owner})
    assert [d.id for d in corpus.documents] == ["handbook"]
    with pytest.raises(DataError, match=r"~\$handbook\.docx: not a readable Word document"):
        load_corpus(tmp_path / "kb", glob="~$*.docx")  # named by the glob, it is read (and refused)


def test_the_documents_title_comes_first_unless_its_first_heading_is_that_title(tmp_path: Path) -> None:
    titled = corpus_of(tmp_path / "a", {"h.docx": docx_bytes(handbook, title="  Staff   handbook ")}).documents[0]
    assert titled.text == f"# Staff handbook\n\n{HANDBOOK_TEXT}"
    assert titled.metadata["title"] == "Staff handbook"

    def opening_with_it(document: WordDocument) -> None:
        document.add_paragraph("Staff handbook", style="Title")
        document.add_paragraph("27 days of leave.")

    assert corpus_of(tmp_path / "b", {"h.docx": docx_bytes(opening_with_it, title="Staff handbook")}).documents[0].text == (
        "# Staff handbook\n\n27 days of leave.")


def test_a_companys_own_heading_and_list_styles_are_read_by_what_they_are_based_on(tmp_path: Path) -> None:
    def styled(document: WordDocument) -> None:
        section = document.styles.add_style("Policy Section", WD_STYLE_TYPE.PARAGRAPH)
        section.base_style = document.styles["Heading 2"]
        step = document.styles.add_style("Policy Step", WD_STYLE_TYPE.PARAGRAPH)
        step.base_style = document.styles["List Bullet"]
        document.add_paragraph("Claims", style="Policy Section")
        document.add_paragraph("Keep receipts", style="Policy Step")
        append_xml(document, '<w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>Outlined</w:t></w:r></w:p>')
        append_xml(document, '<w:p><w:pPr><w:pStyle w:val="ListBullet"/><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr>'
                             '</w:pPr><w:r><w:t>Nested</w:t></w:r></w:p>')
        append_xml(document, '<w:p><w:pPr><w:pStyle w:val="ListBullet"/><w:numPr><w:numId w:val="0"/></w:numPr></w:pPr>'
                             '<w:r><w:t>Numbering taken off</w:t></w:r></w:p>')

    assert corpus_of(tmp_path, {"claims.docx": docx_bytes(styled)}).documents[0].text == (
        "## Claims\n\n- Keep receipts\n\n### Outlined\n\n  - Nested\n\nNumbering taken off")


def test_tracked_changes_read_as_accepted_and_comments_are_left_out(tmp_path: Path) -> None:
    def reviewed(document: WordDocument) -> None:
        append_xml(document, '<w:p><w:r><w:t xml:space="preserve">Book </w:t></w:r>'
                             '<w:del w:id="1" w:author="a"><w:r><w:delText>7</w:delText></w:r></w:del>'
                             '<w:ins w:id="2" w:author="a"><w:r><w:t>14</w:t></w:r></w:ins>'
                             '<w:r><w:t xml:space="preserve"> days ahead.</w:t></w:r></w:p>')
        paragraph = document.add_paragraph("Trains in second class.")
        document.add_comment(paragraph.runs, text="Is first class allowed for long trips?", author="a")

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(reviewed)}).documents[0].text == "Book 14 days ahead.\n\nTrains in second class."


def test_footnotes_and_endnotes_are_markdown_footnotes_defined_after_the_block_referring_to_them(tmp_path: Path) -> None:
    def annotated(document: WordDocument) -> None:
        add_notes(document, "footnote", {"1": "Contractors book through their agency.", "2": "Receipts in EUR."})
        add_notes(document, "endnote", {"1": "Policy of 2026."})
        append_xml(document, '<w:p><w:r><w:t>Book flights 14 days ahead.</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r>'
                             '<w:r><w:t xml:space="preserve"> Trains in second class.</w:t></w:r><w:r><w:endnoteReference w:id="1"/></w:r></w:p>')
        row = document.add_table(rows=1, cols=2).rows[0]
        row.cells[0].text, row.cells[1].text = "Meals", "40"
        row.cells[1].paragraphs[0]._p.append(element('<w:r><w:footnoteReference w:id="2"/></w:r>'))
        document.add_paragraph("Ask finance first.")

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(annotated)}).documents[0].text == (
        "Book flights 14 days ahead.[^1] Trains in second class.[^2]\n\n[^1]: Contractors book through their agency.\n"
        "[^2]: Policy of 2026.\n\nMeals | 40[^3]\n\n[^3]: Receipts in EUR.\n\nAsk finance first.")


def test_a_pictures_alt_text_is_read_where_the_picture_is_and_a_picture_without_any_is_not(tmp_path: Path) -> None:
    from tests.datasets._pptx import png_bytes

    def pictured(document: WordDocument) -> None:
        paragraph = document.add_paragraph("Who approves:")
        paragraph.add_run().add_picture(io.BytesIO(png_bytes()))
        paragraph.add_run(" then book.")
        document.add_picture(io.BytesIO(png_bytes()))  # python-docx names it 'Picture 2', writes no alt text
        document.add_picture(io.BytesIO(png_bytes()))  # a picture alone in its paragraph
        table = document.add_table(rows=1, cols=2)
        table.cell(0, 0).text = "Route"
        table.cell(0, 1).paragraphs[0].add_run().add_picture(io.BytesIO(png_bytes()))
        pictures = document.inline_shapes
        pictures[0]._inline.docPr.set("descr", "Org chart: finance reports to the CFO")
        pictures[2]._inline.docPr.set("title", "Travel process")
        pictures[2]._inline.docPr.set("descr", "Plan, book,\nclaim")
        pictures[3]._inline.docPr.set("descr", "Map of Lyon")

    assert corpus_of(tmp_path, {"who.docx": docx_bytes(pictured)}).documents[0].text == (
        "Who approves: [Image: Org chart: finance reports to the CFO] then book.\n\n[Image: Travel process: Plan, book, claim]\n\n"
        "Route | [Image: Map of Lyon]")


def test_a_notes_list_items_keep_their_markers_counted_apart_from_the_bodys_lists(tmp_path: Path) -> None:
    def styled(style: str, text: str) -> str:
        return f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>'

    def annotated(document: WordDocument) -> None:
        add_notes(document, "footnote", {"1": (styled("Normal", "Book through:"), styled("ListNumber", "the agency"),
                                               styled("ListNumber", "the portal"), styled("ListBullet", "contractors too"))})
        add_notes(document, "endnote", {"1": (styled("ListBullet", "Policy of 2026"),)})
        document.add_paragraph("Claims", style="List Number")
        append_xml(document, '<w:p><w:pPr><w:pStyle w:val="ListNumber"/></w:pPr><w:r><w:t>Book flights ahead.</w:t></w:r>'
                             '<w:r><w:footnoteReference w:id="1"/></w:r><w:r><w:endnoteReference w:id="1"/></w:r></w:p>')

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(annotated)}).documents[0].text == (
        "1. Claims\n2. Book flights ahead.[^1][^2]\n\n[^1]: Book through: 1. the agency 2. the portal - contractors too\n"
        "[^2]: - Policy of 2026")


def test_a_cell_merged_down_rows_repeats_its_text_but_not_its_note_marker(tmp_path: Path) -> None:
    def limits(document: WordDocument) -> None:
        add_notes(document, "footnote", {"1": "Lyon from July.", "2": "In EUR."})
        table = document.add_table(rows=3, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Region", "City"
        table.cell(1, 1).text, table.cell(2, 1).text = "Paris", "Lyon"
        merged = table.cell(1, 0).merge(table.cell(2, 0))
        merged.text = "Europe"
        merged.paragraphs[0]._p.append(element('<w:r><w:footnoteReference w:id="1"/></w:r>'))
        merged.add_paragraph("Limits")._p.append(element('<w:r><w:footnoteReference w:id="2"/></w:r>'))

    assert corpus_of(tmp_path, {"limits.docx": docx_bytes(limits)}).documents[0].text == (
        "Region | City\nEurope[^1] Limits[^2] | Paris\nEurope Limits | Lyon\n\n[^1]: Lyon from July.\n[^2]: In EUR.")


def text_box(text: str, table: str = "") -> str:
    return f'<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p>{table}</w:txbxContent>'


def vml_box(text: str, table: str = "") -> str:  # Word 2007's text box, and the fallback later versions write beside theirs
    return f'<w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>{text_box(text, table)}</v:textbox></v:shape></w:pict>'


def test_a_text_box_is_read_once_after_the_paragraph_holding_it(tmp_path: Path) -> None:
    shape = ('<w:drawing><wp:anchor xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
             '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData>'
             '<wps:wsp xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:txbx>{}</wps:txbx></wps:wsp>'
             '</a:graphicData></a:graphic></wp:anchor></w:drawing>')

    def boxed(document: WordDocument) -> None:
        callout = "Important: contractors book through their agency."
        append_xml(document, '<w:p><w:r><w:t>Book flights 14 days ahead.</w:t></w:r><w:r>'
                             '<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
                             f'<mc:Choice Requires="wps">{shape.format(text_box(callout))}</mc:Choice>'
                             f'<mc:Fallback>{vml_box(callout)}</mc:Fallback></mc:AlternateContent></w:r>'
                             '<w:r><w:t xml:space="preserve"> Trains in second class.</w:t></w:r></w:p>')
        limits = "<w:tbl><w:tr>" + "".join(f"<w:tc><w:p><w:r><w:t>{cell}</w:t></w:r></w:p></w:tc>" for cell in ("Meals", "40")) + "</w:tr></w:tbl>"
        append_xml(document, f'<w:p><w:r>{vml_box("Receipts within 30 days.", limits)}</w:r></w:p>')
        document.add_paragraph("Ask finance first.")

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(boxed)}).documents[0].text == (
        "Book flights 14 days ahead. Trains in second class.\n\nImportant: contractors book through their agency.\n\n"
        "Receipts within 30 days.\n\nMeals | 40\n\nAsk finance first.")


def test_a_text_box_in_a_table_cell_is_read_in_that_cell(tmp_path: Path) -> None:
    def boxed(document: WordDocument) -> None:
        inner = f'<w:p><w:r>{vml_box("Agencies book for contractors.")}</w:r></w:p>'
        meals = f'<w:p><w:r><w:t>Meals</w:t></w:r><w:r>{vml_box("Receipts within 30 days.", inner)}</w:r></w:p>'
        append_xml(document, f'<w:tbl><w:tr><w:tc>{meals}<w:p><w:r><w:t>per day</w:t></w:r></w:p></w:tc>'
                             '<w:tc><w:p><w:r><w:t>40</w:t></w:r></w:p></w:tc></w:tr></w:tbl>')

    assert corpus_of(tmp_path, {"claims.docx": docx_bytes(boxed)}).documents[0].text == (
        "Meals Receipts within 30 days. Agencies book for contractors. per day | 40")


def test_a_vertically_merged_cell_reads_in_each_row_it_spans_and_a_wide_cell_once(tmp_path: Path) -> None:
    # each row a chunk may hold alone keeps its label: "Europe | Lyon | 30", not " | Lyon | 30"
    def limits(document: WordDocument) -> None:
        table = document.add_table(rows=6, cols=3)
        for (row, column), text in {(0, 0): "Region", (0, 1): "City", (0, 2): "Limit", (1, 1): "Paris", (1, 2): "40",
                                    (2, 1): "Lyon", (2, 2): "30", (3, 2): "20", (4, 2): "50", (5, 2): "60"}.items():
            table.cell(row, column).text = text
        table.cell(1, 0).merge(table.cell(2, 0)).text = "Europe"
        table.cell(3, 0).merge(table.cell(3, 1)).text = "Any other city"
        table.cell(4, 0).merge(table.cell(5, 1)).text = "Asia and Oceania"

    assert corpus_of(tmp_path, {"limits.docx": docx_bytes(limits)}).documents[0].text == (
        "Region | City | Limit\nEurope | Paris | 40\nEurope | Lyon | 30\nAny other city | 20\nAsia and Oceania | 50\n"
        "Asia and Oceania | 60")


def test_a_built_in_list_styles_name_gives_its_level(tmp_path: Path) -> None:
    # Word's "List Bullet 2" numbers its paragraphs at level 0 of a list of its own, indented as a second level; a German
    # Word names the style's id "Aufzhlungszeichen2" but keeps the built-in name in English
    def nested(document: WordDocument) -> None:
        document.styles.element.append(element('<w:style w:type="paragraph" w:styleId="Aufzhlungszeichen2"><w:name w:val="List Bullet 2"/>'
                                               '<w:basedOn w:val="Normal"/><w:pPr><w:numPr><w:numId w:val="2"/></w:numPr></w:pPr></w:style>'))
        stop = document.styles.add_style("Tour Stop", WD_STYLE_TYPE.PARAGRAPH)
        stop.base_style = document.styles["List Bullet 3"]
        document.add_paragraph("France", style="List Bullet")
        document.add_paragraph("Paris", style="List Bullet 2")
        document.add_paragraph("Le Marais", style="List Bullet 3")
        append_xml(document, '<w:p><w:pPr><w:pStyle w:val="Aufzhlungszeichen2"/></w:pPr><w:r><w:t>Lyon</w:t></w:r></w:p>')
        document.add_paragraph("Vieux Lyon", style="Tour Stop")
        document.add_paragraph("Book", style="List Number")
        document.add_paragraph("Pay", style="List Number 2")

    assert corpus_of(tmp_path, {"tour.docx": docx_bytes(nested)}).documents[0].text == (
        "- France\n  - Paris\n    - Le Marais\n  - Lyon\n    - Vieux Lyon\n1. Book\n  1. Pay")


MULTILEVEL = ('<w:abstractNum w:abstractNumId="20"><w:multiLevelType w:val="multilevel"/>'
              '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
              '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%2)"/></w:lvl>'
              '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerRoman"/><w:lvlText w:val="(%3)"/></w:lvl>'
              '<w:lvl w:ilvl="3"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:isLgl/><w:lvlText w:val="%1.%2.%4"/></w:lvl>'
              '<w:lvl w:ilvl="4"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0b7"/></w:lvl></w:abstractNum>'
              '<w:abstractNum w:abstractNumId="21"><w:lvl w:ilvl="0"><w:start w:val="4"/><w:numFmt w:val="upperRoman"/>'
              '<w:lvlText w:val="Part %1:"/></w:lvl></w:abstractNum>'
              '<w:num w:numId="20"><w:abstractNumId w:val="20"/></w:num>'
              '<w:num w:numId="21"><w:abstractNumId w:val="20"/><w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
              '<w:num w:numId="22"><w:abstractNumId w:val="21"/></w:num>')


def numbered(document: WordDocument, items: list[tuple[str, int, str]]) -> None:
    for number, level, text in items:
        append_xml(document, f'<w:p><w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{number}"/></w:numPr></w:pPr>'
                             f'<w:r><w:t>{text}</w:t></w:r></w:p>')


def test_numbered_list_items_read_as_word_numbers_them(tmp_path: Path) -> None:
    # Word counts a list by its definition (abstractNum): a numId that restarts it (startOverride) starts again, one
    # that does not continues it; a deeper level starts again under each new item above it
    def claims(document: WordDocument) -> None:
        numbering = document.part.numbering_part.element
        for definition in element(f"<w:numbering>{MULTILEVEL}</w:numbering>"):
            numbering.append(definition)
        numbered(document, [("20", 0, "Scope"), ("20", 1, "Staff"), ("20", 1, "Contractors"), ("20", 2, "Agencies"),
                            ("20", 2, "Freelancers"), ("20", 3, "Interns"), ("20", 4, "Remote"), ("20", 0, "Claims"),
                            ("20", 1, "Receipts")])
        document.add_paragraph("A second list:")
        numbered(document, [("21", 0, "Restarted"), ("21", 1, "Under it"), ("20", 0, "Continued"), ("22", 0, "Appendix"),
                            ("22", 0, "Glossary"), ("99", 0, "Undefined list")])

    assert corpus_of(tmp_path, {"claims.docx": docx_bytes(claims)}).documents[0].text == (
        "1. Scope\n  a) Staff\n  b) Contractors\n    (i) Agencies\n    (ii) Freelancers\n      1.2.1 Interns\n"
        "        - Remote\n2. Claims\n  a) Receipts\n\nA second list:\n\n1. Restarted\n  a) Under it\n2. Continued\n"
        "Part IV: Appendix\nPart V: Glossary\n- Undefined list")


def test_list_items_in_a_table_cell_keep_their_markers_and_count_in_their_list(tmp_path: Path) -> None:
    def steps(document: WordDocument) -> None:
        table = document.add_table(rows=1, cols=3)
        table.cell(0, 0).text = "Claims"
        for text in ("Open the form", "Sign it"):
            table.cell(0, 1).add_paragraph(text, style="List Number")
        for text in ("Passport", "Visa"):
            table.cell(0, 2).add_paragraph(text, style="List Bullet")
        document.add_paragraph("Send it", style="List Number")  # Word goes on with the list the table started

    assert corpus_of(tmp_path, {"steps.docx": docx_bytes(steps)}).documents[0].text == (
        "Claims | 1. Open the form 2. Sign it | - Passport - Visa\n\n3. Send it")


def test_numbered_headings_show_their_number_and_count_with_the_list_under_them(tmp_path: Path) -> None:
    # a policy's outline: Heading 1 and 2 numbered by one list ("1", "1.1"), its clauses the third level, "(a)"
    definitions = ('<w:abstractNum w:abstractNumId="40">'
                   '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1"/></w:lvl>'
                   '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/></w:lvl>'
                   '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="(%3)"/></w:lvl>'
                   '</w:abstractNum><w:num w:numId="40"><w:abstractNumId w:val="40"/></w:num>')

    def outline(document: WordDocument) -> None:
        numbering = document.part.numbering_part.element
        for definition in element(f"<w:numbering>{definitions}</w:numbering>"):
            numbering.append(definition)
        for level, name in enumerate(("Heading 1", "Heading 2")):
            numbered_by = document.styles[name].element.get_or_add_pPr().get_or_add_numPr()
            numbered_by.get_or_add_numId().val, numbered_by.get_or_add_ilvl().val = 40, level
        document.add_heading("Travel", 1)
        document.add_heading("Flights", 2)
        numbered(document, [("40", 2, "Book 14 days ahead."), ("40", 2, "Fly economy.")])
        document.add_heading("Trains", 2)
        numbered(document, [("40", 2, "Second class.")])
        document.add_heading("Expenses", 1)
        document.add_heading("Meals", 2)

    (doc,) = corpus_of(tmp_path, {"policy.docx": docx_bytes(outline)}).documents
    assert doc.text == ("# 1 Travel\n\n## 1.1 Flights\n\n    (a) Book 14 days ahead.\n    (b) Fly economy.\n\n## 1.2 Trains\n\n"
                        "    (a) Second class.\n\n# 2 Expenses\n\n## 2.1 Meals")
    assert [c.header for c in chunk_document(doc, ChunkerSpec(strategy="markdown", size=500, overlap=0))] == [
        "1 Travel", "1.1 Flights", "1.2 Trains", "2 Expenses", "2.1 Meals"]


def test_a_list_numbered_by_a_list_style_counts_with_the_styles_own(tmp_path: Path) -> None:
    # Word's list styles ("1 / 1.1 / 1.1.1"): the definition a list uses names the style (w:numStyleLink), whose own
    # list holds the levels
    definitions = ('<w:abstractNum w:abstractNumId="30"><w:styleLink w:val="PolicyList"/><w:lvl w:ilvl="0"><w:start w:val="1"/>'
                   '<w:numFmt w:val="decimalZero"/><w:lvlText w:val="%1"/></w:lvl></w:abstractNum>'
                   '<w:abstractNum w:abstractNumId="31"><w:numStyleLink w:val="PolicyList"/></w:abstractNum>'
                   '<w:num w:numId="30"><w:abstractNumId w:val="30"/></w:num><w:num w:numId="31"><w:abstractNumId w:val="31"/></w:num>')

    def styled(document: WordDocument) -> None:
        numbering = document.part.numbering_part.element
        for definition in element(f"<w:numbering>{definitions}</w:numbering>"):
            numbering.append(definition)
        document.styles.element.append(element('<w:style w:type="numbering" w:styleId="PolicyList"><w:name w:val="Policy List"/>'
                                               '<w:pPr><w:numPr><w:numId w:val="30"/></w:numPr></w:pPr></w:style>'))
        numbered(document, [("31", 0, "Scope"), ("30", 0, "Claims"), ("31", 0, "Audit")])

    assert corpus_of(tmp_path, {"policy.docx": docx_bytes(styled)}).documents[0].text == "01 Scope\n02 Claims\n03 Audit"


@pytest.mark.parametrize(("count", "kind", "shown"), [(3, "decimal", "3"), (3, "decimalZero", "03"), (12, "decimalZero", "12"),
                                                      (3, "lowerLetter", "c"), (28, "upperLetter", "BB"), (1994, "upperRoman", "MCMXCIV"),
                                                      (4, "lowerRoman", "iv"), (0, "lowerRoman", "0"), (5, "ordinal", "5"), (2, "none", "")])
def test_a_list_items_count_is_written_in_its_levels_number_format(count: int, kind: str, shown: str) -> None:
    from workbench.datasets._word import _numeral

    assert _numeral(count, kind) == shown


def test_an_empty_numbered_item_is_counted_and_a_deleted_one_is_not(tmp_path: Path) -> None:
    def steps(document: WordDocument) -> None:
        document.add_paragraph("Open the form", style="List Number")
        document.add_paragraph("", style="List Number")  # Word shows its "2." beside nothing
        append_xml(document, '<w:p><w:pPr><w:pStyle w:val="ListNumber"/><w:rPr><w:del w:id="1" w:author="a"/></w:rPr></w:pPr>'
                             '<w:del w:id="2" w:author="a"><w:r><w:delText>Print it</w:delText></w:r></w:del></w:p>')
        document.add_paragraph("Sign it", style="List Number")

    assert corpus_of(tmp_path, {"steps.docx": docx_bytes(steps)}).documents[0].text == "1. Open the form\n3. Sign it"


def test_content_controls_are_read_and_a_table_of_contents_is_not(tmp_path: Path) -> None:
    def form(document: WordDocument) -> None:
        append_xml(document, '<w:sdt><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/></w:docPartObj></w:sdtPr>'
                             '<w:sdtContent><w:p><w:r><w:t>Travel .......... 1</w:t></w:r></w:p></w:sdtContent></w:sdt>')
        document.add_heading("Travel", 1)
        append_xml(document, '<w:sdt><w:sdtPr><w:alias w:val="Owner"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t>Owner: finance</w:t>'
                             '</w:r></w:p></w:sdtContent></w:sdt>')

    assert corpus_of(tmp_path, {"travel.docx": docx_bytes(form)}).documents[0].text == "# Travel\n\nOwner: finance"


def test_a_forms_repeating_rows_and_cells_in_content_controls_are_table_rows(tmp_path: Path) -> None:
    def form(document: WordDocument) -> None:
        cell = '<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>'
        append_xml(document, f'<w:tbl><w:tr>{cell.format("Item")}{cell.format("Limit")}</w:tr>'
                             f'<w:sdt><w:sdtContent><w:tr>{cell.format("Meals")}<w:sdt><w:sdtContent>{cell.format("40")}</w:sdtContent>'
                             '</w:sdt></w:tr></w:sdtContent></w:sdt></w:tbl>')

    assert corpus_of(tmp_path, {"claims.docx": docx_bytes(form)}).documents[0].text == "Item | Limit\nMeals | 40"


PASSWORD_FIX = r"save a copy without the password \(Word: File > Info > Protect Document > Encrypt with Password, cleared\)"
DOC_FIX = (r"a Word 97-2003 document \(\.doc\) or another Office 97-2003 file, which is not read — save it as \.docx \(Word: File > "
           r"Save As > Word Document, or libreoffice --headless --convert-to docx FILE\)")
DAMAGED = r"not a readable Word document \(BadZipFile: File is not a zip file\) — the file may be truncated or damaged, or another kind of file named \.docx: save it again as \.docx"
SAVE_AS = r", which is not read — save it as a Word Document \(\.docx\)"


REFUSED = [
    ("old.doc", ole_bytes("WordDocument", "1Table"), DOC_FIX),
    ("renamed.docx", ole_bytes("WordDocument", "1Table"), DOC_FIX),
    ("locked.docx", ole_bytes("EncryptionInfo", "EncryptedPackage"), f"a password-protected Word document — {PASSWORD_FIX}"),
    ("cut.docx", docx_bytes(handbook)[:300], DAMAGED),
    ("page.docx", b"<html><body><p>saved as .docx by mistake</p></body></html>", DAMAGED),
    ("empty.docx", b"", DAMAGED),
    ("notes.docx", b"PK\x05\x06" + bytes(18), r"not a readable Word document \(KeyError: \"There is no item named '\[Content_Types\]\.xml' in the archive\"\)"),
    ("macros.docm", with_main_content_type(docx_bytes(handbook), "application/vnd.ms-word.document.macroEnabled.main+xml"),
     rf"a macro-enabled Word document \(\.docm\){SAVE_AS}"),
    ("letter.dotx", with_main_content_type(docx_bytes(handbook), "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"),
     rf"a Word template \(\.dotx\){SAVE_AS}"),
    ("strict.docx", as_strict(docx_bytes(handbook)), rf"a Word document saved as Strict Open XML{SAVE_AS}"),
    ("budget.docx", with_main_content_type(docx_bytes(handbook), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
     r"an Office file but not a Word document \(its main part is application/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet\.main\+xml\)"
     + SAVE_AS),
]


@pytest.mark.parametrize(("name", "content", "reason"), REFUSED, ids=[name for name, _, _ in REFUSED])
def test_a_word_file_that_cannot_be_read_is_one_line_naming_it_and_its_exclude(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    with pytest.raises(DataError) as caught:
        corpus_of(tmp_path, {"notes.md": b"# Notes\n", name: content})
    message = str(caught.value)
    assert "\n" not in message
    assert re.fullmatch(rf"{tmp_path}/kb/{name}: {reason}.*, or leave it out: corpus exclude: \['{name}'\]", message), message


def test_a_word_document_given_as_the_corpus_is_told_to_give_its_folder(tmp_path: Path) -> None:
    (tmp_path / "handbook.docx").write_bytes(docx_bytes(handbook))
    with pytest.raises(DataError, match=r"handbook\.docx: the corpus is a Word document, not a folder — give its folder, with glob: "
                                        r"'handbook\.docx' to use only it"):
        load_corpus(tmp_path / "handbook.docx")
    assert load_corpus(tmp_path, glob="handbook.docx").documents[0].text == HANDBOOK_TEXT
