"""The text of a corpus folder's PowerPoint decks (.pptx), read with python-pptx: a slide a page.

Each slide shown in the deck is read in order: its title as a markdown heading (``#``, as a Word document's first-level
headings are, so that header-aware chunkers cut a deck slide by slide), then the text of its other shapes in reading
order (below; a group's shapes in the group's place), a picture's alt text as ``[Image: ...]`` (not the name or file
name Office or python-pptx writes there when no one wrote any), a table's rows as ``a | b``, bullet paragraphs as ``- ``
indented by their level, a SmartArt graphic's nodes as a nested list, a chart's title and data a line a category, and
last the slide's speaker notes (``Notes: ...``), which often hold what the presenter says. Hidden slides, hidden shapes
and the footer, date and slide number repeated on every slide are left out. The slides are the deck's pages
(``page_starts``, see ``workbench.datasets._pages``): page N is slide N as PowerPoint numbers it, so a hidden slide, or
one without text (a picture without alt text), is a page without text, on which no chunk lies, and the slides after it
keep their numbers.

Reading order is a column rule of the kind PDF text extractors use, on where the shapes holding text lie (a picture
without alt text, a line or a background takes no part): the slide is cut into bands where no shape's height crosses,
and consecutive bands make one section while its shapes still fall apart into columns (left to right, apart where no
shape's width crosses), so a shape across the columns (a banner, a wide table, a footnote) ends a section and starts the
next. A section whose columns stand side by side (shapes of two of them share a height) is read column by column, each
column by the same rule (a column may hold columns of its own, read so up to four deep); any other section, and a band
of one column, top to bottom, then left to right. Two columns of boxes with gaps between them are so read as columns,
where reading each band across would interleave them; a staircase of boxes, none beside another, is read from the top.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from workbench.datasets._formats import Extracted
from workbench.datasets._office import OfficeFormat, alt_text, core_title, joined_blocks
from workbench.datasets._pages import pages_metadata
from workbench.datasets._text import _one_line_break
from workbench.errors import DataError

_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/main"
_PRESENTATION = "http://schemas.openxmlformats.org/presentationml/2006/main"
_DIAGRAM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# a SmartArt graphic's points that hold its text: its nodes and an organisation chart's assistants (not the points of
# its connections, nor those it lays out)
_DIAGRAM_NODES = frozenset({"node", "asst"})
# what a placeholder of each type inherits its text style from on the slide master (python-pptx's own mapping): a
# title's from the master's title, the date, footer and slide number from theirs, any other from the body's
_TITLES = frozenset({"title", "ctrTitle", "vertTitle"})
_BOILERPLATE = frozenset({"dt", "ftr", "sldNum", "hdr"})  # repeated on every slide, as a Word document's page footer is
_BULLETS = ("buNone", "buChar", "buAutoNum", "buBlip")


def _open_pptx(stream: IO[bytes]) -> Any:
    from pptx.package import Package

    return Package.open(stream)


_POWERPOINT = OfficeFormat(
    document="PowerPoint presentation", application="PowerPoint", suffix=".pptx", save_as="PowerPoint Presentation",
    legacy="a PowerPoint 97-2003 presentation (.ppt)", protect="Protect Presentation",
    # the main parts python-pptx reads as a presentation: a deck, a macro-enabled one (its macros are never run) and a
    # show (.ppsx, a deck saved to open as a slide show); a template's slides are examples of its layouts, not a document
    main_parts=frozenset({
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    }),
    others={
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": "a PowerPoint template (.potx)",
        "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": "a macro-enabled PowerPoint template (.potm)",
        "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": "a macro-enabled PowerPoint show (.ppsm)",
    },
    open=_open_pptx,
)

def pptx_text(data: bytes, where: str, leave_out: str) -> Extracted:
    """A PowerPoint deck's slides as markdown-like text, a slide a page (see the module's docstring); its core
    properties' title is kept as metadata, not put before the first slide: PowerPoint writes 'PowerPoint
    Presentation' (or 'Presentation') into a deck nobody titled, and a deck's own title is on its first slide.

    Args:
        data: the file's bytes.
        where: the file, as error messages name it.
        leave_out: the end of a message saying how to leave the file out of the corpus.

    Raises:
        DataError: a PowerPoint 97-2003 file, a password-protected deck, a template, a macro-enabled show, one saved as
            Strict Open XML, a file python-pptx cannot read (truncated, damaged, or another kind of file named .pptx),
            or a deck without any text (its slides pictures).
    """
    def read(package: Any, part: Any) -> tuple[list[Any], list[str], str]:
        slides = list(part.presentation.slides)
        reader = _Deck()
        return slides, [reader.slide_text(slide) if _shown(slide) else "" for slide in slides], core_title(package, lambda core: core.title)

    slides, pages, title = _POWERPOINT.read(data, where, leave_out, read)
    if not any(pages):
        raise DataError(_no_text(where, len(slides), sum(not _shown(slide) for slide in slides), leave_out))
    text = "\n\n".join(page for page in pages if page)
    metadata = pages_metadata(pages, len(text))
    return Extracted(text, {**metadata, "title": title} if title else metadata)


def _no_text(where: str, slides: int, hidden: int, leave_out: str) -> str:
    """The refusal of a deck without text (pure), as a scanned PDF's is: its slides pictures (exported as images), or
    all of them hidden."""
    if not slides:
        return f"{where}: a PowerPoint presentation without slides — add its slides, or {leave_out}"
    if hidden == slides:
        counted = f"{slides} slide{' is' if slides == 1 else 's are all'}"
        return f"{where}: a PowerPoint presentation whose {counted} hidden — show the slides to read, or {leave_out}"
    shown = slides - hidden
    also = f" and {hidden} hidden" if hidden else ""
    return (f"{where}: a PowerPoint presentation with no text ({shown} slide{'' if shown == 1 else 's'} without text{also}: "
            f"pictures of slides?) — add their text (text boxes, speaker notes or the pictures' alt text), or {leave_out}")


def _shown(slide: Any) -> bool:
    """Whether a slide is shown in the slide show (PowerPoint's Hide Slide sets ``show`` to false)."""
    return slide.element.get("show") not in ("0", "false")


class _Deck:
    """One reading of a deck's slides, on their XML: what each layout's placeholders give the slides' placeholders
    (where they are, their list styles), looked up once a layout (python-pptx looks them up on each call, which took
    most of a deck's time)."""

    def __init__(self) -> None:
        self._layouts: dict[Any, _Layout] = {}

    def slide_text(self, slide: Any) -> str:
        """A shown slide's text: its title as a heading, its other shapes' text in reading order, its speaker notes."""
        found = slide.slide_layout
        if found.element not in self._layouts:  # by its XML: python-pptx's proxy of it is not hashable
            self._layouts[found.element] = _Layout(found)
        layout = self._layouts[found.element]
        shapes = [shape for shape in _xpath(_SHAPES)(slide.element) if not _hidden(shape)]
        # an empty title placeholder (a slide whose title was never typed) is no title: its layout's prompt is not shown
        title = next((shape for shape in shapes if _placeholder_type(shape) in _TITLES and _one_line(shape)), None)
        blocks = [(f"# {_one_line(title)}", False)] if title is not None else []
        blocks.extend(_blocks([shape for shape in shapes if shape is not title], layout, slide.part))
        notes = _notes(slide)
        if notes:
            blocks.append((f"Notes: {notes}", False))
        return _one_line_break(joined_blocks(blocks))


# a slide's (or a group's) shapes: text shapes, groups, tables' frames, connectors, pictures; of a shape PowerPoint
# wrote twice, as an Office 2010 feature (an equation, ink) and as a picture of it for older readers
# (mc:AlternateContent), its first choice, as PowerPoint shows it
_KINDS = "self::p:sp or self::p:grpSp or self::p:graphicFrame or self::p:cxnSp or self::p:pic"
_GROUPED = f"./*[{_KINDS}] | ./mc:AlternateContent/mc:Choice[1]/*[{_KINDS}]"
_SHAPES = f"./p:cSld/p:spTree/*[{_KINDS}] | ./p:cSld/p:spTree/mc:AlternateContent/mc:Choice[1]/*[{_KINDS}]"
# where a shape lies, in its slide's (a grouped shape's: its group's) coordinates
_FRAME = "./p:spPr/a:xfrm | ./p:xfrm | ./p:grpSpPr/a:xfrm"


@dataclass(frozen=True)
class _Box:
    """Where a shape lies on its slide, in EMU: its top and left edges, and its bottom and right ones."""

    top: int
    left: int
    bottom: int
    right: int


def _box(shape: Any) -> _Box | None:
    """Where a shape lies, when its XML says so (a placeholder often does not: it lies where its layout's does)."""
    found = _xpath(_FRAME)(shape)
    offset = found[0].find(f"{{{_DRAWING}}}off") if found else None
    if offset is None:
        return None
    size = found[0].find(f"{{{_DRAWING}}}ext")
    top, left = int(offset.get("y", 0)), int(offset.get("x", 0))
    height, width = (int(size.get("cy", 0)), int(size.get("cx", 0))) if size is not None else (0, 0)
    return _Box(top, left, top + max(height, 0), left + max(width, 0))


def _reading_order(boxes: Sequence[_Box | None]) -> list[int]:
    """The indices of shapes lying in ``boxes`` in reading order (pure; see the module's docstring): cut into bands
    where no shape's height crosses, consecutive bands one section while its shapes still fall apart into columns, a
    section of columns side by side read column by column (each by the same rule), any other top to bottom, then left
    to right; a shape whose place is not known (None) after the others, in the order given."""
    known = {n: box for n, box in enumerate(boxes) if box is not None}
    return [*_ordered(list(known), known), *(n for n, box in enumerate(boxes) if box is None)]


# how deep columns are looked for in columns: a slide's seldom go past two, and each level reads all its shapes again
_COLUMNS_DEPTH = 4


def _ordered(shapes: list[int], boxes: dict[int, _Box]) -> list[int]:
    """``shapes`` in reading order, by ``_reading_order``'s rule: a column's shapes by the same rule, up to
    ``_COLUMNS_DEPTH`` columns deep (deeper, top to bottom, then left to right), without recursion."""
    def top_left(n: int) -> tuple[int, int]:
        return boxes[n].top, boxes[n].left

    read: list[int] = []
    waiting: list[tuple[int | list[int], int]] = [(shapes, 0)]  # shapes, and columns to order at their depth, from the end
    while waiting:
        next_one, depth = waiting.pop()
        if isinstance(next_one, int):
            read.append(next_one)
            continue
        parts: list[tuple[int | list[int], int]] = []
        for section, columns in _sections(sorted(next_one, key=top_left), boxes):
            if len(columns) > 1 and depth < _COLUMNS_DEPTH and _side_by_side(columns, boxes):
                parts.extend((column, depth + 1) for column in columns)
            else:
                parts.extend((n, depth) for n in sorted(section, key=top_left))
        waiting.extend(reversed(parts))
    return read


def _sections(shapes: list[int], boxes: dict[int, _Box]) -> list[tuple[list[int], list[list[int]]]]:
    """``shapes`` (sorted top to bottom, then left to right) cut into bands where no shape's height crosses, consecutive
    bands one section while its shapes still fall apart into columns: each section with its columns, left to right."""
    bands: list[list[int]] = []
    bottom = 0
    for n in shapes:
        if bands and boxes[n].top < bottom:
            bands[-1].append(n)
            bottom = max(bottom, boxes[n].bottom)
        else:
            bands.append([n])
            bottom = boxes[n].bottom
    sections: list[tuple[list[int], list[tuple[int, int]]]] = []  # each with the spans of its columns, left to right
    for band in bands:
        spans = _spans([(boxes[n].left, boxes[n].right) for n in band])
        joined = _spans([*sections[-1][1], *spans]) if sections else []
        if len(joined) > 1:
            sections[-1][0].extend(band)
            sections[-1] = (sections[-1][0], joined)
        else:
            sections.append((band, spans))
    found = []
    for section, spans in sections:
        lefts = [left for left, _ in spans]
        columns: list[list[int]] = [[] for _ in spans]
        for n in section:
            columns[bisect_right(lefts, boxes[n].left) - 1].append(n)
        found.append((section, columns))
    return found


def _spans(extents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Horizontal extents (left, right) merged where they overlap, left to right (pure): a section's columns."""
    spans: list[tuple[int, int]] = []
    for left, right in sorted(extents, key=lambda extent: (extent[0], -extent[1])):  # a line of no width in a wider shape's
        if spans and left < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], right))
        else:
            spans.append((left, right))
    return spans


def _side_by_side(columns: list[list[int]], boxes: dict[int, _Box]) -> bool:
    """Whether shapes of two of ``columns`` share a height (a staircase of boxes, each below the one before, does not)."""
    # top to bottom, the lowest bottom of the shapes above in any column, and in any other column than that one's
    lowest, lowest_column, other = -1, -1, -1
    for top, bottom, column in sorted((boxes[n].top, boxes[n].bottom, c) for c, shapes in enumerate(columns) for n in shapes):
        if top < (other if column == lowest_column else lowest):
            return True
        if column == lowest_column:
            lowest = max(lowest, bottom)
        elif bottom > lowest:
            lowest, lowest_column, other = bottom, column, lowest
        else:
            other = max(other, bottom)
    return False


@dataclass(frozen=True)
class _Inherited:
    """What a slide's placeholder inherits from its layout's of the same index, which inherits from the master's of its
    type: where it lies, and the placeholders whose list styles say whether its paragraphs are bullets (nearest first)."""

    box: _Box | None
    styles: tuple[Any, ...]


class _Layout:
    """A slide layout's placeholders, by index, and its master's text styles."""

    def __init__(self, layout: Any) -> None:
        master = layout.slide_master.element
        on_master: dict[str | None, Any] = {}
        for shape in _xpath(_SHAPES)(master):
            on_master.setdefault(_placeholder_type(shape), shape)
        self.placeholders: dict[str, _Inherited] = {}
        for shape in _xpath(_SHAPES)(layout.element):
            kind = _placeholder_type(shape)
            if kind is not None:
                base = on_master.get(_master_type(kind))
                box = _box(shape) or (_box(base) if base is not None else None)
                self.placeholders.setdefault(_placeholder_index(shape), _Inherited(box, tuple(e for e in (shape, base) if e is not None)))
        self.master = master

    def inherited(self, shape: Any) -> _Inherited:
        return self.placeholders.get(_placeholder_index(shape), _Inherited(None, ())) if _placeholder_type(shape) else _Inherited(None, ())

    def in_reading_order(self, shapes: Sequence[Any]) -> list[int]:
        """The indices of ``shapes`` in reading order (see ``_reading_order``), a placeholder lying where its layout's
        does; one whose place is not known (a placeholder its layout no longer has) after the others."""
        return _reading_order([_box(shape) or self.inherited(shape).box for shape in shapes])

    def bulleted(self, shape: Any, kind: str | None) -> Callable[[Any, int], bool]:
        """For a shape, a function telling whether its paragraph at a level is a bullet, by the first of these saying
        so: the paragraph's own properties, its shape's list style, for a placeholder the list styles of the layout's
        and the master's placeholder it inherits from, and the master's text styles (its body's for a placeholder,
        where bullets are on by default; its other shapes' for a text box, where they are off)."""
        inherited = (shape, *self.inherited(shape).styles)
        style = "titleStyle" if kind in _TITLES else "bodyStyle" if kind is not None else "otherStyle"
        levels: dict[int, bool] = {}

        def at(level: int) -> bool:
            if level not in levels:
                lvl = f"a:lvl{min(level, 8) + 1}pPr"
                found = [*(marks for element in inherited for marks in _xpath(f"./p:txBody/a:lstStyle/{lvl}")(element)),
                         *_xpath(f"./p:txStyles/p:{style}/{lvl}")(self.master)]
                levels[level] = next((b != "buNone" for element in found for b in _bullet_marks(element)), False)
            return levels[level]

        def bulleted(paragraph: Any, level: int) -> bool:
            own = _xpath("./a:pPr")(paragraph)
            marks = _bullet_marks(own[0]) if own else []
            return marks[0] != "buNone" if marks else at(level)

        return bulleted


def _one_line(shape: Any) -> str:
    """A shape's text on one line, its whitespace collapsed (a title broken over two lines is one heading)."""
    return " ".join(" ".join(map(_paragraph_text, _paragraphs(shape))).split())


def _blocks(shapes: Sequence[Any], layout: _Layout, part: Any) -> list[tuple[str, bool]]:
    """The text of a slide's (``part``'s) shapes in reading order, as blocks each with whether it is a list item (see
    ``_office.joined_blocks``); a shape without text (a picture, a line, a background) takes no part in the order."""
    read = [(shape, blocks) for shape in shapes if (blocks := _shape_blocks(shape, layout, part))]
    return [block for n in layout.in_reading_order([shape for shape, _ in read]) for block in read[n][1]]


def _shape_blocks(shape: Any, layout: _Layout, part: Any) -> list[tuple[str, bool]]:
    """A shape's text as blocks: a group's shapes' in their reading order, a picture's alt text (``[Image: ...]``), a
    table as its rows, a SmartArt graphic as a list of its nodes, a chart as its title and data, a text frame as its
    paragraphs."""
    kind = _placeholder_type(shape)
    if kind in _BOILERPLATE or _hidden(shape):
        return []
    if shape.tag == f"{{{_PRESENTATION}}}grpSp":
        return _blocks(_xpath(_GROUPED)(shape), layout, part)
    if shape.tag == f"{{{_PRESENTATION}}}pic":
        found = _xpath("./p:nvPicPr/p:cNvPr")(shape)
        alt = alt_text(found[0].get("descr"), found[0].get("title"), found[0].get("name")) if found else ""
        return [(alt, False)] if alt else []
    blocks: list[tuple[str, bool]] = []
    for data in _xpath("./a:graphic/a:graphicData/dgm:relIds/@r:dm")(shape):
        blocks.extend(_diagram_nodes(part, data))
    for chart in _xpath("./a:graphic/a:graphicData/c:chart/@r:id")(shape):
        shown = _chart_text(part, chart)
        if shown:
            blocks.append((shown, False))
    for table in _xpath("./a:graphic/a:graphicData/a:tbl")(shape):
        rows = (" | ".join(" ".join(_paragraph_text(p) for p in _xpath("./a:txBody/a:p")(cell)).strip()
                           for cell in _xpath("./a:tc[not(@hMerge='1' or @hMerge='true')]")(row))
                for row in _xpath("./a:tr")(table))
        shown = "\n".join(row for row in rows if row.replace("|", "").strip())
        if shown:
            blocks.append((shown, False))
    bulleted = layout.bulleted(shape, kind)
    for paragraph in _paragraphs(shape):
        text = _paragraph_text(paragraph).strip()
        if text:
            level = _level(paragraph)
            blocks.append((f"{'  ' * level}- {text}", True) if bulleted(paragraph, level) else (text, False))
    return blocks


def _diagram_nodes(part: Any, data: str) -> Iterator[tuple[str, bool]]:
    """The nodes of a SmartArt graphic whose data part ``part`` relates as ``data``, each a list item indented by its
    depth, in the order its connections give (a node's children after it). Its data part holds its text once, by node;
    the shapes PowerPoint draws from it (a drawing part of its own) are left alone."""
    from lxml import etree

    try:
        model = etree.fromstring(part.related_part(data).blob)
    except KeyError:  # a graphic whose data part is not in the file: PowerPoint shows nothing either
        return
    points = {point.get("modelId"): point for point in _xpath("./dgm:ptLst/dgm:pt")(model)}
    children: dict[str | None, list[tuple[int, str | None]]] = {}
    for connection in _xpath("./dgm:cxnLst/dgm:cxn[not(@type) or @type='parOf']")(model):
        order = connection.get("srcOrd", "0")
        children.setdefault(connection.get("srcId"), []).append((int(order) if order.isdigit() else 0, connection.get("destId")))
    roots = [key for key, point in points.items() if point.get("type") == "doc"]
    stack = [(key, -1) for key in reversed(roots)]
    seen: set[str | None] = set()
    while stack:  # depth first, without recursion: a deck's data may nest as deep as it likes
        key, depth = stack.pop()
        if key in seen or key not in points:
            continue
        seen.add(key)
        point = points[key]
        text = " ".join(" ".join(map(_paragraph_text, _xpath("./dgm:t/a:p")(point))).split())
        if point.get("type", "node") in _DIAGRAM_NODES and text:
            yield f"{'  ' * max(depth, 0)}- {text}", True
        stack.extend((child, depth + 1) for _, child in sorted(children.get(key, ()), key=lambda c: c[0], reverse=True))


def _chart_text(part: Any, chart: str) -> str:
    """A chart's title (``Chart: ...``) and its data, a line a category: ``North | 2025: 40 | 2026: 45``, from the
    figures the chart keeps of its workbook (a series without a figure for a category left out of that line)."""
    from lxml import etree

    try:
        space = etree.fromstring(part.related_part(chart).blob)
    except KeyError:  # a chart whose part is not in the file
        return ""
    title = " ".join(" ".join(map(_paragraph_text, _xpath("./c:chart/c:title/c:tx/c:rich/a:p")(space))).split())
    categories: dict[int, str] = {}
    rows: dict[int, list[str]] = {}
    for series in _xpath("./c:chart/c:plotArea/*/c:ser")(space):
        name = " ".join("".join(_xpath("./c:tx//c:v/text()")(series)).split()) or "value"
        categories.update(_chart_points(series, _CHART_CATEGORIES))
        for index, value in _chart_points(series, _CHART_VALUES).items():
            rows.setdefault(index, []).append(f"{name}: {value}")
    lines = [f"{categories.get(index, index + 1)} | {' | '.join(values)}" for index, values in sorted(rows.items())]
    return "\n".join([f"Chart: {title}" if title else "Chart", *lines]) if title or lines else ""


# where a series keeps its categories (a scatter chart's x values; the innermost level of categories in levels) and its
# values (a scatter chart's y values), as its cache of the workbook's cells or as figures written into the chart
_CHART_CATEGORIES = ("./c:cat/*/c:strCache | ./c:cat/*/c:numCache | ./c:cat/c:strLit | ./c:cat/c:numLit"
                     " | ./c:cat/c:multiLvlStrRef/c:multiLvlStrCache/c:lvl[1] | ./c:xVal/*/c:strCache | ./c:xVal/*/c:numCache"
                     " | ./c:xVal/c:strLit | ./c:xVal/c:numLit")
_CHART_VALUES = "./c:val/c:numRef/c:numCache | ./c:val/c:numLit | ./c:yVal/c:numRef/c:numCache | ./c:yVal/c:numLit"


def _chart_points(series: Any, where: str) -> dict[int, str]:
    """A series' points kept where ``where`` finds them, by index."""
    found = _xpath(where)(series)
    points = _xpath("./c:pt[c:v]")(found[0]) if found else []
    return {int(point.get("idx", "0")): " ".join("".join(_xpath("./c:v/text()")(point)).split()) for point in points
            if point.get("idx", "0").isdigit()}


def _notes(slide: Any) -> str:
    """A slide's speaker notes, a line a paragraph ("" without any)."""
    if not slide.has_notes_slide:  # asking for the notes slide would make one
        return ""
    body = _xpath("./p:cSld/p:spTree/p:sp[p:nvSpPr/p:nvPr/p:ph[@type='body']]")(slide.notes_slide.element)
    paragraphs = _paragraphs(body[0]) if body else []
    return "\n".join(filter(None, (_paragraph_text(p).strip() for p in paragraphs)))


@lru_cache(maxsize=None)
def _xpath(path: str) -> Callable[[object], list[Any]]:
    """A compiled XPath with ``a:`` bound to DrawingML and ``p:`` to PresentationML."""
    from lxml import etree

    return etree.XPath(path, namespaces={"a": _DRAWING, "p": _PRESENTATION, "dgm": _DIAGRAM, "c": _CHART, "r": _RELATIONSHIPS,
                                          "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"})


def _paragraphs(shape: Any) -> list[Any]:
    """A shape's paragraphs (``a:p``; none for a picture, a group or a table's frame)."""
    return _xpath("./p:txBody/a:p")(shape)


def _paragraph_text(paragraph: Any) -> str:
    """A paragraph's text: its runs' and fields' (a date, a slide number typed into it), a line break as ``\\n``."""
    return "".join("\n" if part.tag == f"{{{_DRAWING}}}br" else "".join(_xpath("./a:t/text()")(part))
                   for part in _xpath("./a:r | ./a:br | ./a:fld")(paragraph))


def _level(paragraph: Any) -> int:
    found = _xpath("./a:pPr/@lvl")(paragraph)
    return int(found[0]) if found and found[0].isdigit() else 0


def _hidden(shape: Any) -> bool:
    """Whether a shape is hidden (PowerPoint's Selection Pane): it is not shown in the slide show."""
    return bool(_xpath("./*[1]/p:cNvPr[@hidden='1' or @hidden='true']")(shape))


def _placeholder_type(shape: Any) -> str | None:
    """A placeholder's type as written (``title``, ``body``, ``obj`` when not written...); None for another shape."""
    found = _xpath("./*[1]/p:nvPr/p:ph")(shape)
    return found[0].get("type", "obj") if found else None


def _placeholder_index(shape: Any) -> str:
    """A placeholder's index, by which a slide's finds its layout's (0, a title's, when not written)."""
    found = _xpath("./*[1]/p:nvPr/p:ph/@idx")(shape)
    return found[0] if found else "0"


def _bullet_marks(properties: Any) -> list[str]:
    """The bullet elements paragraph properties hold (``buNone``, ``buChar``...), by their names."""
    return [child.tag.rpartition("}")[2] for child in properties if child.tag.rpartition("}")[2] in _BULLETS]


def _master_type(kind: str | None) -> str | None:
    """The type of the master's placeholder a placeholder of this type inherits from."""
    return "title" if kind in _TITLES else kind if kind in _BOILERPLATE else "body"
