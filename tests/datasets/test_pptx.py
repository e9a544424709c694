"""PowerPoint decks in a corpus folder: their slides as markdown-like text, a slide a page, and one-line refusals of the
PowerPoint files it cannot read. Every file is written at test time (python-pptx, or byte by byte)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pptx.presentation import Presentation
from pptx.util import Inches

from workbench.datasets import file_format, page_starts
from workbench.errors import DataError
from workbench.pipeline import chunk_document
from workbench.spec import ChunkerSpec

from tests.datasets._docx import as_strict, docx_bytes, ole_bytes
from tests.datasets._pptx import TITLE_ONLY, TITLE_SLIDE, add_diagram, add_picture, add_slide, add_text_box, pptx_bytes, with_main_content_type
from tests.datasets._files import corpus_of


def travel_deck(deck: Presentation) -> None:
    cover = deck.slides.add_slide(deck.slide_layouts[TITLE_SLIDE])
    cover.shapes.title.text = "Travel   policy"
    cover.placeholders[1].text = "Finance, 2026"  # a subtitle: no bullet, though the master's body text has them
    add_slide(deck, "Booking", ["Book flights 14 days ahead", (1, "Economy class"), (2, "Business above 6 hours"), "Trains"],
              notes="Mention the new agency.\nContractors book through theirs.")
    add_slide(deck, "Limits", ["Ask finance first"])
    table = deck.slides[2].shapes.add_table(3, 2, Inches(1), Inches(5), Inches(6), Inches(1)).table
    for row, cells in enumerate([("Item", "Limit"), ("Meals", "40 EUR\na day"), ("", "")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text


TRAVEL_TEXT = ("# Travel policy\n\nFinance, 2026\n\n"
               "# Booking\n\n- Book flights 14 days ahead\n  - Economy class\n    - Business above 6 hours\n- Trains\n\n"
               "Notes: Mention the new agency.\nContractors book through theirs.\n\n"
               "# Limits\n\n- Ask finance first\n\nItem | Limit\nMeals | 40 EUR a day")


def test_a_decks_text_is_its_slides_in_order_titles_as_headings_bullets_by_level_tables_as_rows_and_notes(tmp_path: Path) -> None:
    (doc,) = corpus_of(tmp_path, {"policies/Travel.PPTX": pptx_bytes(travel_deck)}).documents
    assert doc.id == "policies/Travel"
    assert doc.text == TRAVEL_TEXT  # no empty table row
    starts = (0, TRAVEL_TEXT.index("# Booking"), TRAVEL_TEXT.index("# Limits"))
    assert doc.metadata == {"path": "policies/Travel.PPTX", "pages": "3", "page_starts": " ".join(map(str, starts))}
    assert page_starts(doc.metadata) == starts


def test_a_header_aware_chunker_cuts_a_deck_slide_by_slide_and_its_chunks_know_their_slides(tmp_path: Path) -> None:
    (doc,) = corpus_of(tmp_path, {"travel.pptx": pptx_bytes(travel_deck)}).documents
    chunks = chunk_document(doc, ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [(c.header, c.source) for c in chunks] == [
        ("Travel policy", "travel#page=1"), ("Booking", "travel#page=2"), ("Limits", "travel#page=3")]


def test_shapes_are_read_top_to_bottom_then_left_to_right_and_a_groups_shapes_in_its_place(tmp_path: Path) -> None:
    def columns(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        add_text_box(slide.shapes, "Right column", left=5, top=2)  # added first: the slide's order is not the reader's
        group = slide.shapes.add_group_shape()
        add_text_box(group.shapes, "Second in the group", left=4, top=6)
        add_text_box(group.shapes, "First in the group", left=1, top=6)
        add_text_box(slide.shapes, "Left column", left=1, top=2)
        add_text_box(slide.shapes, "Footnote under all", left=1, top=7)
        add_text_box(slide.shapes, "Banner above the title", left=1, top=0.1)
        slide.shapes.title.text = "Two columns"  # the title first wherever it is
        untitled = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])  # its title placeholder left empty, as PowerPoint keeps it
        add_text_box(untitled.shapes, "A slide without a title", left=1, top=2)

    assert corpus_of(tmp_path, {"columns.pptx": pptx_bytes(columns)}).documents[0].text == (
        "# Two columns\n\nBanner above the title\n\nLeft column\n\nRight column\n\nFirst in the group\n\nSecond in the group\n\n"
        "Footnote under all\n\nA slide without a title")


def test_columns_of_boxes_side_by_side_are_read_column_by_column_until_a_shape_across_them(tmp_path: Path) -> None:
    # each column's boxes one under the other, with gaps between them: read row by row, the columns interleaved
    def before_after(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        slide.shapes.title.text = "Claims"
        add_text_box(slide.shapes, "Introduced in 2026", left=1, top=1.4, width=8)  # across both columns
        for top, (left_text, right_text) in zip((2.5, 3.75, 5), [("Before: paper forms", "After: an app"),
                                                                  ("Before: three approvals", "After: one approval"),
                                                                  ("Before: 10 days", "After: 2 days")]):
            add_text_box(slide.shapes, right_text, left=5, top=top)
            add_text_box(slide.shapes, left_text, left=1, top=top)
        add_text_box(slide.shapes, "Before: paid by cheque", left=1, top=6.25)  # a column may be longer than the other
        add_text_box(slide.shapes, "Source: finance survey", left=1, top=7.5, width=7)  # across both: the columns end
        add_text_box(slide.shapes, "Questions: finance desk", left=5, top=8.6)

    assert corpus_of(tmp_path, {"claims.pptx": pptx_bytes(before_after)}).documents[0].text == (
        "# Claims\n\nIntroduced in 2026\n\nBefore: paper forms\n\nBefore: three approvals\n\nBefore: 10 days\n\n"
        "Before: paid by cheque\n\nAfter: an app\n\nAfter: one approval\n\nAfter: 2 days\n\nSource: finance survey\n\n"
        "Questions: finance desk")


def test_boxes_that_never_stand_side_by_side_are_read_top_to_bottom_and_a_column_inside_a_column_as_one(tmp_path: Path) -> None:
    def steps(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        slide.shapes.title.text = "Steps"
        add_text_box(slide.shapes, "Then: book", left=5, top=3.5)  # a staircase: no two boxes share a height
        add_text_box(slide.shapes, "First: ask", left=1, top=2)
        add_text_box(slide.shapes, "Last: claim", left=1, top=5)
        nested = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        nested.shapes.title.text = "Left split in two"
        add_text_box(nested.shapes, "Left", left=1, top=1.5, width=3)  # above both halves of the left column
        for left, top, text in ((1, 2.6, "A1"), (2.6, 2.6, "B1"), (1, 3.75, "A2"), (2.6, 3.75, "B2"), (5, 1.5, "Right 1"), (5, 3.5, "Right 2")):
            add_text_box(nested.shapes, text, left=left, top=top, width=1.5)

    assert corpus_of(tmp_path, {"steps.pptx": pptx_bytes(steps)}).documents[0].text == (
        "# Steps\n\nFirst: ask\n\nThen: book\n\nLast: claim\n\n"
        "# Left split in two\n\nLeft\n\nA1\n\nA2\n\nB1\n\nB2\n\nRight 1\n\nRight 2")


def test_a_pictures_alt_text_is_read_in_its_place_and_a_name_or_file_name_office_wrote_there_is_not(tmp_path: Path) -> None:
    def pictures(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        slide.shapes.title.text = "Who approves"
        add_text_box(slide.shapes, "Ask your manager first.", left=5, top=2)
        add_picture(slide.shapes, left=1, top=2, descr="Org chart:  finance\nreports to the CFO")  # the left column
        add_picture(slide.shapes, left=5, top=4)  # python-pptx writes the file name: image.png
        add_picture(slide.shapes, left=5, top=6, descr="Picture 3")  # the shape's name, as some tools copy it
        add_picture(slide.shapes, left=1, top=6, descr="A picture containing text\n\nDescription automatically generated")
        add_picture(slide.shapes.add_group_shape().shapes, left=3, top=9, descr="Claims by month", title="Chart")  # across both
        only = deck.slides.add_slide(deck.slide_layouts[6])  # a diagram as a picture, nothing else on its slide
        add_picture(only.shapes, left=1, top=1, title="Travel process: plan, book, claim")

    assert corpus_of(tmp_path, {"who.pptx": pptx_bytes(pictures)}).documents[0].text == (
        "# Who approves\n\n[Image: Org chart: finance reports to the CFO]\n\nAsk your manager first.\n\n"
        "[Image: Chart: Claims by month]\n\n[Image: Travel process: plan, book, claim]")
    # a deck of pictures with alt text is no deck without text (which is refused)
    only = pptx_bytes(lambda deck: add_picture(deck.slides.add_slide(deck.slide_layouts[6]).shapes, left=1, top=1, descr="Org chart"))
    assert corpus_of(tmp_path / "only", {"org.pptx": only}).documents[0].text == "[Image: Org chart]"


@pytest.mark.parametrize(("descr", "title", "read"), [
    ("Org chart", "", "[Image: Org chart]"),
    ("", "Org chart", "[Image: Org chart]"),
    ("Finance reports to the CFO", "Org chart", "[Image: Org chart: Finance reports to the CFO]"),
    ("Org chart", "org chart", "[Image: org chart]"),
    ("He reports to the CFO.", "An unhappy fish.", "[Image: An unhappy fish. He reports to the CFO.]"),
    ("Logo 2", "", ""),  # the picture's own name
    ("Grafik 3", "", ""),  # a German Office's default name
    ("C:\\Users\\ana\\org-chart.PNG", "", ""),
    ("Diagram  Description automatically generated", "", ""),
    ("fig:\n\n./org-chart.png", "", ""),  # pandoc's figure, a deck's picture
    ("Org chart", "fig:", "[Image: Org chart]"),  # pandoc's figure, a Word document's
    ("", "", ""),
])
def test_alt_text_is_what_a_person_wrote_not_what_office_wrote_there(descr: str, title: str, read: str) -> None:
    from workbench.datasets._office import alt_text

    assert alt_text(descr, title, "Logo 2") == read


def test_a_paragraph_bulleted_or_not_by_its_own_properties_is_read_as_it_shows(tmp_path: Path) -> None:
    from pptx.oxml import parse_xml

    def bullets(paragraph, mark: str) -> None:  # type: ignore[no-untyped-def]
        paragraph._p.get_or_add_pPr().append(parse_xml(f'<a:{mark} xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"/>'))

    def marked(deck: Presentation) -> None:
        slide = add_slide(deck, "Limits", ["Meals: 40 EUR a day", "Ask finance first"])
        bullets(slide.placeholders[1].text_frame.paragraphs[1], "buNone")  # a body's bullet turned off
        box = add_text_box(slide.shapes, "Receipts:\nwithin 30 days\nscanned copies are fine", left=1, top=6)
        for paragraph in box.text_frame.paragraphs[1:]:
            bullets(paragraph, "buAutoNum type=\"arabicPeriod\"")  # a text box's own numbered list

    assert corpus_of(tmp_path, {"limits.pptx": pptx_bytes(marked)}).documents[0].text == (
        "# Limits\n\n- Meals: 40 EUR a day\n\nAsk finance first\n\nReceipts:\n\n- within 30 days\n- scanned copies are fine")


def test_a_smartart_graphics_nodes_are_a_list_in_its_place_nested_as_drawn(tmp_path: Path) -> None:
    def process(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        slide.shapes.title.text = "Booking a trip"
        add_text_box(slide.shapes, "Ask finance first.", left=1, top=5)
        add_diagram(slide, [("Plan", ["Budget", "Dates"]), ("Book", []), ("Claim", ["Receipts"])], left=1, top=2)
        add_text_box(slide.shapes, "Three steps:", left=1, top=1.5)

    assert corpus_of(tmp_path, {"trip.pptx": pptx_bytes(process)}).documents[0].text == (
        "# Booking a trip\n\nThree steps:\n\n- Plan\n  - Budget\n  - Dates\n- Book\n- Claim\n  - Receipts\n\nAsk finance first.")


def test_a_charts_title_and_data_are_read_in_its_place_a_row_a_category(tmp_path: Path) -> None:
    from pptx.chart.data import CategoryChartData, XyChartData
    from pptx.enum.chart import XL_CHART_TYPE

    def charts(deck: Presentation) -> None:
        slide = deck.slides.add_slide(deck.slide_layouts[TITLE_ONLY])
        slide.shapes.title.text = "Meals"
        data = CategoryChartData()
        data.categories = ["North", "South"]
        data.add_series("2025", (40, 35.5))
        data.add_series("2026", (45, None))  # no figure for the south yet
        chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(3), data).chart
        chart.has_title = True
        chart.chart_title.text_frame.text = "Meal allowance by region"
        add_text_box(slide.shapes, "In EUR a day.", left=1, top=1.5)
        points = XyChartData()
        points.add_series("Claims").add_data_point(3, 120)
        slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, Inches(1), Inches(5.5), Inches(6), Inches(1), points)

    assert corpus_of(tmp_path, {"meals.pptx": pptx_bytes(charts)}).documents[0].text == (
        "# Meals\n\nIn EUR a day.\n\nChart: Meal allowance by region\nNorth | 2025: 40 | 2026: 45\nSouth | 2025: 35.5\n\n"
        "Chart\n3 | Claims: 120")


def test_a_shape_powerpoint_writes_twice_for_older_readers_is_read_once_as_newer_ones_show_it(tmp_path: Path) -> None:
    # a text box holding an equation (or another Office 2010 feature) is written as a choice: the shape, and a picture
    # of it for readers that do not know the feature
    from pptx.oxml import parse_xml

    def with_equation(deck: Presentation) -> None:
        slide = add_slide(deck, "Per diem", ["Meals: 40 EUR a day"])
        box = add_text_box(slide.shapes, "Total = days x 40 EUR", left=1, top=5).element
        fallback = add_text_box(slide.shapes, "an older reader's copy", left=1, top=5).element
        choice = parse_xml('<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
                           '<mc:Choice xmlns:a14="http://schemas.microsoft.com/office/drawing/2010/main" Requires="a14"/>'
                           '<mc:Fallback/></mc:AlternateContent>')
        box.addprevious(choice)
        choice[0].append(box)
        choice[1].append(fallback)

    assert corpus_of(tmp_path, {"diem.pptx": pptx_bytes(with_equation)}).documents[0].text == (
        "# Per diem\n\n- Meals: 40 EUR a day\n\nTotal = days x 40 EUR")


def test_hidden_slides_and_shapes_and_each_slides_footer_are_left_out_and_the_slides_keep_their_numbers(tmp_path: Path) -> None:
    def drafts(deck: Presentation) -> None:
        add_slide(deck, "Travel", ["Book flights 14 days ahead"])
        add_slide(deck, "Draft limits", ["Meals: 35 EUR?"], notes="Not agreed yet.", hidden=True)
        add_slide(deck)  # a picture of a chart, no text
        slide = add_slide(deck, "Limits", ["Meals: 40 EUR a day"])
        add_text_box(slide.shapes, "Old limit: 30 EUR", left=1, top=6, hidden=True)
        slide.shapes.clone_placeholder(deck.slide_layouts[1].placeholders.get(idx=11))  # the footer, as PowerPoint adds it
        slide.placeholders[11].text_frame.text = "Confidential - Finance"

    (doc,) = corpus_of(tmp_path, {"travel.pptx": pptx_bytes(drafts)}).documents
    assert doc.text == "# Travel\n\n- Book flights 14 days ahead\n\n# Limits\n\n- Meals: 40 EUR a day"
    fourth = doc.text.index("# Limits")
    assert page_starts(doc.metadata) == (0, fourth, fourth, fourth)  # slides 2 and 3 are pages without text
    chunks = chunk_document(doc, ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [c.source for c in chunks] == ["travel#page=1", "travel#page=4"]


def test_the_decks_title_is_kept_as_metadata_not_put_before_its_first_slide(tmp_path: Path) -> None:
    # PowerPoint titles a deck nobody titled 'PowerPoint Presentation' (or 'Presentation'): as a first heading, that
    # would head most decks' text; a deck's own title is on its first slide
    (titled,) = corpus_of(tmp_path, {"t.pptx": pptx_bytes(travel_deck, title="PowerPoint  Presentation")}).documents
    assert titled.text == TRAVEL_TEXT
    assert titled.metadata["title"] == "PowerPoint Presentation"


@pytest.mark.parametrize("name", ["show.ppsx", "macros.pptm"])
def test_a_slide_show_and_a_macro_enabled_deck_are_read_as_decks(tmp_path: Path, name: str) -> None:
    content_type = {"show.ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
                    "macros.pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"}[name]
    data = with_main_content_type(pptx_bytes(travel_deck), content_type)
    assert corpus_of(tmp_path, {name: data}).documents[0].text == TRAVEL_TEXT


@pytest.mark.parametrize("name", ["deck.pptx", "deck.ppt", "deck.pptm", "deck.ppsx", "deck.PPSM", "deck.potx", "deck.potm", "deck.pps", "deck.pot"])
def test_powerpoints_files_are_read_as_decks_not_as_text(name: str) -> None:
    assert file_format(name) == "pptx"


PASSWORD_FIX = r"save a copy without the password \(PowerPoint: File > Info > Protect Presentation > Encrypt with Password, cleared\)"
PPT_FIX = (r"a PowerPoint 97-2003 presentation \(\.ppt\) or another Office 97-2003 file, which is not read — save it as \.pptx "
           r"\(PowerPoint: File > Save As > PowerPoint Presentation, or libreoffice --headless --convert-to pptx FILE\)")
SAVE_AS = r", which is not read — save it as a PowerPoint Presentation \(\.pptx\)"
DAMAGED = (r"not a readable PowerPoint presentation \(BadZipFile: File is not a zip file\) — the file may be truncated or damaged, "
           r"or another kind of file named \.pptx: save it again as \.pptx")


@pytest.mark.parametrize(("name", "data", "message"), [
    ("old.ppt", ole_bytes("PowerPoint Document"), PPT_FIX),
    ("locked.pptx", ole_bytes("EncryptionInfo", "EncryptedPackage"), f"a password-protected PowerPoint presentation — {PASSWORD_FIX}"),
    ("template.potx", with_main_content_type(pptx_bytes(travel_deck), "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"),
     f"a PowerPoint template \\(\\.potx\\){SAVE_AS}"),
    ("show.ppsm", with_main_content_type(pptx_bytes(travel_deck), "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml"),
     f"a macro-enabled PowerPoint show \\(\\.ppsm\\){SAVE_AS}"),
    ("strict.pptx", as_strict(pptx_bytes(travel_deck)), f"a PowerPoint presentation saved as Strict Open XML{SAVE_AS}"),
    ("handbook.pptx", docx_bytes(lambda document: document.add_paragraph("Travel")),
     (r"an Office file but not a PowerPoint presentation \(its main part is application/vnd\.openxmlformats-officedocument\."
      rf"wordprocessingml\.document\.main\+xml\){SAVE_AS}")),
    ("cut.pptx", pptx_bytes(travel_deck)[:2000], DAMAGED),
    ("empty.pptx", b"", DAMAGED),
    ("pictures.pptx", pptx_bytes(lambda deck: [add_slide(deck), add_slide(deck), add_slide(deck, "Draft", hidden=True)]),
     (r"a PowerPoint presentation with no text \(2 slides without text and 1 hidden: pictures of slides\?\) — add their text "
      r"\(text boxes, speaker notes or the pictures' alt text\)")),
    ("all-hidden.pptx", pptx_bytes(lambda deck: add_slide(deck, "Draft", hidden=True)),
     "a PowerPoint presentation whose 1 slide is hidden — show the slides to read"),
    ("no-slides.pptx", pptx_bytes(lambda deck: None), "a PowerPoint presentation without slides — add its slides"),
])
def test_a_powerpoint_file_that_cannot_be_read_is_one_line_naming_it_and_its_exclude(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=rf"^{tmp_path}/kb/{name}: {message}, or leave it out: corpus exclude: \['{name}'\]$"):
        corpus_of(tmp_path, {name: data, "ok.pptx": pptx_bytes(travel_deck)})


def test_every_unreadable_deck_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"a\.ppt: a PowerPoint 97-2003 presentation .* \(and 1 more file refused: b\.pptx\)$"):
        corpus_of(tmp_path, {"a.ppt": ole_bytes("PowerPoint Document"), "b.pptx": b"not a zip"})
