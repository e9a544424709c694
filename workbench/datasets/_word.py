"""The body of a corpus folder's Word documents (.docx), read with python-docx: its headings as markdown's ``#``, so
that header-aware chunkers see its sections, its lists numbered as Word numbers them, its tables a row a line, its
pictures' alt text where they are."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from workbench.datasets._formats import Extracted
from workbench.datasets._office import OfficeFormat, alt_text, core_title, joined_blocks


def _open_docx(stream: IO[bytes]) -> Any:
    from docx.package import Package

    return Package.open(stream)


_WORD = OfficeFormat(
    document="Word document", application="Word", suffix=".docx", save_as="Word Document",
    legacy="a Word 97-2003 document (.doc)", protect="Protect Document",
    main_parts=frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"}),
    # Word's other files of the same build, whose main part python-docx does not open as a document
    others={
        "application/vnd.ms-word.document.macroEnabled.main+xml": "a macro-enabled Word document (.docm)",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "a Word template (.dotx)",
        "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "a macro-enabled Word template (.dotm)",
    },
    open=_open_docx,
)
# an element's runs, paragraphs and text boxes of its own: not those of a text box drawn from it (read after the
# paragraph anchoring it), ``$boxes`` being how many text boxes hold the element (see ``_within``)
_BOXES_AROUND = "count(ancestor-or-self::w:txbxContent)"
# the text a reader sees once every tracked change is accepted: deleted and moved-away runs left out
_SHOWN_RUNS = ".//w:r[count(ancestor::w:txbxContent) = $boxes][not(ancestor::w:del or ancestor::w:moveFrom)]"
_PARAGRAPHS_WITHIN = ".//w:p[count(ancestor::w:txbxContent) = $boxes]"
# Word 2010 and later write each text box twice: as a drawing, and in VML for older readers (mc:Fallback)
_TEXT_BOXES = ".//w:txbxContent[count(ancestor::w:txbxContent) = $boxes][not(ancestor::mc:Fallback)]"
_NOTE_REFERENCES = "./w:footnoteReference | ./w:endnoteReference"
# a run's pictures (not a text box's or a chart's drawing), as Word 2010 and later write them (not their fallback), and
# whether a paragraph holds any
_PICTURE = "w:drawing/*/wp:docPr[../a:graphic/a:graphicData/pic:pic]"
_PICTURES = f"./{_PICTURE} | ./mc:AlternateContent/mc:Choice[1]/{_PICTURE}"
_ANY_PICTURE = ".//wp:docPr[../a:graphic/a:graphicData/pic:pic]"
# a paragraph whose mark is a tracked deletion (or move away): once accepted, an empty one is gone, and so is its number
_REMOVED_PARAGRAPH = "./w:pPr/w:rPr/w:del | ./w:pPr/w:rPr/w:moveFrom"
_HEADING_STYLE = re.compile(r"heading ([1-9])")
# Word's built-in "List Bullet 2" or "List Number 3" numbers its paragraphs at level 0 of a list of its own, indented as
# the second or third level of a list is: the level its name gives
_LIST_STYLE = re.compile(r"list (?:bullet|number) ([2-9])")
# where a list level's text (w:lvlText, "%1." or "%1.%2)") shows the count of a level, 1-based
_LEVEL_COUNT = re.compile(r"%([1-9])")
_WORDPROCESSING = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# a table's rows and a row's cells, those a form repeats in a content control included
_ROWS_OF_TABLE = "./w:tr | ./w:sdt/w:sdtContent/w:tr"
_CELLS_OF_ROW = "./w:tc | ./w:sdt/w:sdtContent/w:tc"
_BLOCK_TAGS = tuple(f"{{{_WORDPROCESSING}}}{name}" for name in ("p", "tbl", "sdt", "customXml"))


def docx_text(data: bytes, where: str, leave_out: str) -> Extracted:
    """A Word document's body as markdown-like text: its paragraphs and tables in order, each heading as ``#`` by its
    level, each list item as ``- `` or numbered as Word numbers it (``1.``, ``a)``), indented by its level, and each
    table row as ``a | b`` (a cell merged down rows in each of them); paragraphs and tables apart by a blank line. Its
    core properties' title comes first unless its first heading is that title, and is kept as metadata. Footnotes and
    endnotes are markdown footnotes (``[^1]``), defined after the paragraph or table referring to them, a text box's
    paragraphs follow the paragraph it is drawn from, and a picture's alt text is ``[Image: ...]`` where the picture is;
    page headers and footers (boilerplate repeated on every page) and comments (reviewers' remarks) are left out, and
    tracked changes read as accepted.

    Args:
        data: the file's bytes.
        where: the file, as error messages name it.
        leave_out: the end of a message saying how to leave the file out of the corpus.

    Raises:
        DataError: a Word 97-2003 file, a password-protected document, a macro-enabled one, a template, one saved as
            Strict Open XML, or a file python-docx cannot read (truncated, damaged, or another kind of file named .docx).
    """
    def read(package: Any, part: Any) -> tuple[list[tuple[str, bool]], str]:
        styles = _WordStyles(part.styles.element)
        reader = _WordReader(styles, _notes_of(part, styles), _numbering_of(part))
        return list(reader.blocks(part.element.body)), core_title(package, lambda core: core.core_properties.title)

    blocks, title = _WORD.read(data, where, leave_out, read)
    if title and (not blocks or blocks[0][0].lstrip("#").strip() != title):
        blocks.insert(0, (f"# {title}", False))
    return Extracted(joined_blocks(blocks), {"title": title} if title else {})


@lru_cache(maxsize=None)
def _xpath(path: str) -> Callable[[object], list[Any]]:
    """A compiled XPath with ``w:`` bound to WordprocessingML (the elements python-docx has no class for, such as a
    content control's, know no prefixes of their own)."""
    from lxml import etree

    return etree.XPath(path, namespaces={"w": _WORDPROCESSING, "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
                                          "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
                                          "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
                                          "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture"})


def _within(path: str, element: Any) -> list[Any]:
    """What a path of runs, paragraphs or text boxes (``_SHOWN_RUNS``...) finds of an element's own."""
    return _xpath(path)(element, boxes=_xpath(_BOXES_AROUND)(element))


@dataclass(frozen=True)
class _ParagraphStyle:
    heading: int | None  # its level, 1 for a title
    numbering: str | None  # the list (numId) it numbers paragraphs in, "0" when it takes its base style's numbering off
    level: int | None  # the level (ilvl) of that list it numbers them at
    named_level: int  # the level its built-in name gives (see ``_LIST_STYLE``), 0 for other styles


class _WordStyles:
    """What a document's paragraph styles make of their paragraphs, looked up once a style (a style is found by a
    search of styles.xml, and a long document has thousands of paragraphs in a few styles)."""

    def __init__(self, styles: Any) -> None:
        self._styles = styles
        self._known: dict[str | None, _ParagraphStyle] = {}

    def of(self, style_id: str | None) -> _ParagraphStyle:
        if style_id not in self._known:
            self._known[style_id] = self._resolved(style_id)
        return self._known[style_id]

    def _resolved(self, style_id: str | None) -> _ParagraphStyle:
        """A style's heading level and numbering, its own or from the styles it is based on (a company template's
        "Section" style based on "Heading 2"); Word names its built-in styles in English whatever its language."""
        heading = numbering = level = named_level = None
        seen: set[str] = set()
        while style_id is not None and style_id not in seen:
            seen.add(style_id)
            style = self._styles.get_by_id(style_id)
            if style is None:
                break
            own_numbering, own_level = _numbering(style)
            heading = heading or _heading_level(style)
            numbering = numbering if numbering is not None else own_numbering
            level = level if level is not None else own_level
            named = _LIST_STYLE.fullmatch((style.name_val or "").lower())
            named_level = named_level if named_level is not None or named is None else int(named.group(1)) - 1
            style_id = style.basedOn_val
        return _ParagraphStyle(heading, numbering, level, named_level or 0)


def _heading_level(style: Any) -> int | None:
    """The heading level a style gives by its name (Heading 1 to 9, Title as 1) or its outline level."""
    name = (style.name_val or "").lower()
    named = _HEADING_STYLE.fullmatch(name)
    return int(named.group(1)) if named else 1 if name == "title" else _outline_level(style)


def _outline_level(element: Any) -> int | None:
    """The heading level an element's paragraph properties give (``w:outlineLvl`` 0-8; 9 is body text)."""
    found = _xpath("./w:pPr/w:outlineLvl/@w:val")(element)
    return int(found[0]) + 1 if found and found[0].isdigit() and int(found[0]) < 9 else None


def _numbering(element: Any) -> tuple[str | None, int | None]:
    """The list (``numId``, "0" taking numbering off) and level (``ilvl``) an element's paragraph properties give, each
    None when they do not (a paragraph may give its level only, numbered in its style's list)."""
    number = _xpath("./w:pPr/w:numPr/w:numId/@w:val")(element)
    level = _xpath("./w:pPr/w:numPr/w:ilvl/@w:val")(element)
    return number[0] if number else None, _number(level[0]) if level else None


def _number(value: str | None, default: int = 0) -> int:
    """An attribute's whole number (``w:val``), ``default`` when it is missing or not one."""
    return int(value) if value is not None and value.isdigit() else default


@dataclass(frozen=True)
class _ListLevel:
    """How one level of a list (``w:lvl``) numbers its items."""

    format: str  # w:numFmt: decimal, lowerLetter, upperRoman, bullet, none...
    text: str  # w:lvlText: what an item shows, "%1." or "%1.%2)" (the counts of levels 1 and 2)
    start: int
    restart: int | None  # w:lvlRestart: the level (1-based) whose items start this one again; None: any level above
    legal: bool  # w:isLgl: the counts it shows as decimal numbers


class _Numbering:
    """A document's lists (numbering.xml) and their counts as Word keeps them while reading: a list's items are counted
    by its definition (``w:abstractNum``), which the lists (``w:num``) made from it share: one that restarts it
    (``w:startOverride``) starts the count again where it is first used, one that does not continues it; a level starts
    again under each new item of a level above it."""

    def __init__(self, numbering: Any | None, styles: Any) -> None:
        self._definitions: dict[str, dict[int, _ListLevel]] = {}  # abstractNumId -> its levels
        self._lists: dict[str, tuple[str, dict[int, int], dict[int, _ListLevel]]] = {}  # numId -> definition, starts, levels
        self._counts: dict[str, dict[int, int]] = {}  # definition -> its levels' counts so far
        self._linked: dict[str, str] = {}  # a definition naming a numbering style (w:numStyleLink) -> the style's definition
        self._restarted: set[tuple[str, int]] = set()  # the lists and levels whose startOverride is used
        if numbering is None:
            return
        linked: dict[str, str] = {}  # a definition naming a numbering style -> the style's id
        for definition in _xpath("./w:abstractNum")(numbering):
            key = definition.get(f"{{{_WORDPROCESSING}}}abstractNumId")
            self._definitions[key] = {_number(level.get(f"{{{_WORDPROCESSING}}}ilvl")): _list_level(level)
                                      for level in _xpath("./w:lvl")(definition)}
            for style in _xpath("./w:numStyleLink/@w:val")(definition):
                linked[key] = style
        for number in _xpath("./w:num")(numbering):
            definition = next(iter(_xpath("./w:abstractNumId/@w:val")(number)), "")
            starts: dict[int, int] = {}
            levels: dict[int, _ListLevel] = {}
            for override in _xpath("./w:lvlOverride")(number):
                level = _number(override.get(f"{{{_WORDPROCESSING}}}ilvl"))
                for start in _xpath("./w:startOverride/@w:val")(override):
                    starts[level] = _number(start)
                for replaced in _xpath("./w:lvl")(override):
                    levels[level] = _list_level(replaced)
            self._lists[number.get(f"{{{_WORDPROCESSING}}}numId")] = (definition, starts, levels)
        for definition, style in linked.items():  # one step: the definition of the list the numbering style numbers by
            through = _xpath("./w:style[@w:styleId=$id]/w:pPr/w:numPr/w:numId/@w:val")(styles, id=style)
            target = self._lists.get(through[0], ("", {}, {}))[0] if through else ""
            if target in self._definitions and target not in linked:
                self._linked[definition] = target

    def marker(self, number: str, level: int) -> str:
        """What the next item of a list (``numId``) at this level shows before its text: ``1.``, ``a)``, ``1.2.`` as the
        level's text says, ``-`` for a bullet or a list or level numbering.xml does not define."""
        found = self._lists.get(number)
        if found is None:
            return "-"
        definition, starts, overrides = found
        definition = self._linked.get(definition, definition)
        levels = {**self._definitions.get(definition, {}), **overrides}
        this = levels.get(level)
        if this is None:
            return "-"
        counts = self._counts.setdefault(definition, {})
        if level in starts and (number, level) not in self._restarted:
            self._restarted.add((number, level))
            counts[level] = starts[level]
        else:
            counts[level] = counts[level] + 1 if level in counts else this.start
        for deeper in [d for d in counts if d > level]:
            restart = levels[deeper].restart if deeper in levels else None
            if level < (deeper if restart is None else restart):
                del counts[deeper]
        if this.format == "bullet":
            return "-"

        def count(match: re.Match[str]) -> str:
            shown = int(match.group(1)) - 1
            of = levels.get(shown)
            value = counts.get(shown, of.start if of else 1)
            return _numeral(value, "decimal" if this.legal or of is None else of.format)

        return _LEVEL_COUNT.sub(count, this.text).strip() or "-"


def _list_level(level: Any) -> _ListLevel:
    """A ``w:lvl``, its elements missing as the standard reads them: decimal, no text, counted from 0."""
    def value(name: str) -> str | None:
        return next(iter(_xpath(f"./w:{name}/@w:val")(level)), None)

    restart = value("lvlRestart")
    legal = bool(_xpath("./w:isLgl")(level)) and value("isLgl") not in ("0", "false", "off")
    return _ListLevel(format=value("numFmt") or "decimal", text=value("lvlText") or "", start=_number(value("start")),
                      restart=None if restart is None else _number(restart), legal=legal)


_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"),
          (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


def _numeral(value: int, kind: str) -> str:
    """A list item's count as its level's number format writes it (pure): 3 is "3", "03", "c", "C", "iii" or "III";
    a format not written here is a decimal number, as it is in most languages' lists."""
    if kind == "none":
        return ""
    if kind == "decimalZero":
        return f"{value:02d}"
    if kind in ("lowerLetter", "upperLetter") and value > 0:
        letters = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)  # Word's 27th is "aa", its 53rd "aaa"
        return letters.upper() if kind == "upperLetter" else letters
    if kind in ("lowerRoman", "upperRoman") and value > 0:
        roman, left = "", value
        for worth, numeral in _ROMAN:
            times, left = divmod(left, worth)
            roman += numeral * times
        return roman.upper() if kind == "upperRoman" else roman
    return str(value)


def _numbering_of(part: Any) -> _Numbering:
    """The lists of a document part (none when it has no numbering.xml)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml.parser import parse_xml

    try:
        numbering = parse_xml(part.part_related_by(RELATIONSHIP_TYPE.NUMBERING).blob)
    except KeyError:
        numbering = None
    return _Numbering(numbering, part.styles.element)


class _Notes:
    """A document's footnotes and endnotes, numbered as a reader sees them (in the order the body refers to them), each
    written as a markdown footnote: ``[^1]`` where it is referred to, ``[^1]: its text`` after the paragraph or table
    that refers to it, so that a chunk holding the one likely holds the other."""

    def __init__(self, texts: dict[tuple[str, str], str]) -> None:
        self._texts = texts  # (footnote or endnote, its id) -> its text
        self._count = 0
        self._waiting: list[str] = []  # the definitions of the notes the block being read refers to

    def __bool__(self) -> bool:
        return bool(self._texts)

    @property
    def count(self) -> int:
        """How many notes have been referred to so far (the last marker's number)."""
        return self._count

    def marker(self, reference: Any) -> str:
        """The marker of the note a ``w:footnoteReference`` or ``w:endnoteReference`` refers to ("" for no such note)."""
        kind = reference.tag.rpartition("}")[2].removesuffix("Reference")
        text = self._texts.get((kind, reference.get(f"{{{_WORDPROCESSING}}}id")))
        if not text:
            return ""
        self._count += 1
        self._waiting.append(f"[^{self._count}]: {text}")
        return f"[^{self._count}]"

    def definitions(self) -> str:
        """The definitions of the notes referred to since the last call, on lines of their own."""
        waiting, self._waiting = self._waiting, []
        return "\n".join(waiting)


class _WordReader:
    """One reading of a document's body: its paragraph styles, looked up once each, and its notes, numbered as met."""

    def __init__(self, styles: _WordStyles, notes: _Notes, numbering: _Numbering) -> None:
        self.styles = styles
        self.notes = notes
        self.numbering = numbering

    def blocks(self, container: Any) -> Iterator[tuple[str, bool]]:
        """The text of a body's (or a content control's) paragraphs and tables in order, each with whether it is a list
        item (on the line after the item before it, where other blocks are a blank line apart), the notes a block
        refers to after it. Content controls (a form's fields, a template's boxes) are read, but for a table of
        contents, which repeats the headings."""
        for child in container.iterchildren(*_BLOCK_TAGS):  # elements only: not the XML comments a generated body may hold
            name = child.tag.rpartition("}")[2]
            if name == "sdt" and not _xpath("./w:sdtPr/w:docPartObj/w:docPartGallery[@w:val='Table of Contents']")(child):
                for content in _xpath("./w:sdtContent")(child):
                    yield from self.blocks(content)
            elif name == "customXml":
                yield from self.blocks(child)
            block = self._paragraph(child) if name == "p" else self._table(child) if name == "tbl" else None
            if block is not None:
                yield block
            definitions = self.notes.definitions()
            if definitions:
                yield definitions, False
            for box in _within(_TEXT_BOXES, child) if name == "p" else ():
                yield from self.blocks(box)

    def _paragraph(self, paragraph: Any) -> tuple[str, bool] | None:
        text = _paragraph_text(paragraph, self.notes)
        item = self._item(paragraph, text)
        if not text:
            return None
        heading = _outline_level(paragraph) or self.styles.of(paragraph.style).heading
        if heading is not None:  # with its number when a list numbers it ("1.2 Scope", as Word's navigation pane shows it)
            number = f"{item[1]} " if item and item[1] != "-" else ""
            return f"{'#' * min(heading, 6)} {number}{' '.join(text.split())}", False
        return (f"{'  ' * item[0]}{item[1]} {text}", True) if item else (text, False)

    def _item(self, paragraph: Any, text: str) -> tuple[int, str] | None:
        """The depth and marker (``-``, ``1.``) of a list item (a numbered heading too), counted in its list; None for a
        paragraph no list numbers. An empty item is counted too, as Word shows its number, but not one whose deletion is
        tracked."""
        style = self.styles.of(paragraph.style)
        own_numbering, own_level = _numbering(paragraph)
        numbering = own_numbering if own_numbering is not None else style.numbering
        if numbering is None or numbering == "0" or (not text and _xpath(_REMOVED_PARAGRAPH)(paragraph)):
            return None
        level = own_level if own_level is not None else style.level or 0
        # a level of the list itself, else the level a built-in style's name gives ("List Bullet 2" is level 0 of its list)
        return level or style.named_level, self.numbering.marker(numbering, level)

    def _table(self, table: Any) -> tuple[str, bool] | None:
        """A table's rows, each on a line, its cells apart by `` | ``. A cell merged across columns (``w:gridSpan``) is one
        cell of its row; a cell merged down rows (``w:vMerge``) reads in each row it spans, as a row's label (the region
        of the cities below it) that the rows under it would lose when a chunk holds them without the first (the markers
        of the notes it refers to in the first row only)."""
        rows: list[str] = []
        above: dict[int, str] = {}  # by the grid column a row's cell starts at, the text of the cell a merge down continues
        for row in _xpath(_ROWS_OF_TABLE)(table):
            column = _number(next(iter(_xpath("./w:trPr/w:gridBefore/@w:val")(row)), None))
            cells = []
            for cell in _xpath(_CELLS_OF_ROW)(row):
                before = self.notes.count
                text = self.on_one_line(cell)
                if _xpath("./w:tcPr/w:vMerge[not(@w:val) or @w:val='continue']")(cell):
                    text = " ".join(filter(None, (above.get(column, ""), text)))
                else:  # repeated without the markers of its notes, which are defined once, after the table
                    above[column] = _without_markers(text, range(before + 1, self.notes.count + 1))
                cells.append(text)
                column += _number(next(iter(_xpath("./w:tcPr/w:gridSpan/@w:val")(cell)), None), default=1)
            rows.append(" | ".join(cells))
        shown = "\n".join(row for row in rows if row.replace("|", "").strip())
        return (shown, False) if shown else None

    def on_one_line(self, container: Any) -> str:
        """A table cell's (or a note's) paragraphs, a table inside it too, on one line, a list item's after its marker
        (counted in its list, which the body may go on with), each text box after the paragraph holding it."""
        return " ".join(filter(None, self._cell_texts(container)))

    def _cell_texts(self, container: Any) -> Iterator[str]:
        for paragraph in _within(_PARAGRAPHS_WITHIN, container):
            text = _paragraph_text(paragraph, self.notes)
            item = self._item(paragraph, text)
            yield f"{item[1]} {text}" if item and text else text
            for box in _within(_TEXT_BOXES, paragraph):
                yield from self._cell_texts(box)


def _paragraph_text(paragraph: Any, notes: _Notes | None = None) -> str:
    """A paragraph's text as shown (see ``_SHOWN_RUNS``), with the markers of the ``notes`` it refers to and its
    pictures' alt text (``[Image: ...]``, a space apart from the text around it)."""
    runs = _within(_SHOWN_RUNS, paragraph)
    pictured = bool(_xpath(_ANY_PICTURE)(paragraph))
    if not notes and not pictured:
        return "".join(run.text for run in runs).strip()
    text, after_picture = "", False
    for run in runs:
        own = run.text
        text += " " + own if after_picture and own and not own[0].isspace() else own
        after_picture = after_picture and not own
        for picture in _xpath(_PICTURES)(run) if pictured else ():
            alt = alt_text(picture.get("descr"), picture.get("title"), picture.get("name"))
            if alt:
                text += f" {alt}" if text and not text[-1].isspace() else alt
                after_picture = True
        if notes:
            text += "".join(map(notes.marker, _xpath(_NOTE_REFERENCES)(run)))
    return text.strip()


def _without_markers(text: str, numbers: range) -> str:
    """``text`` without the markers of these notes (``[^3]``) (pure)."""
    for number in numbers:
        text = text.replace(f"[^{number}]", "")
    return text


def _notes_of(part: Any, styles: _WordStyles) -> _Notes:
    """The footnotes and endnotes of a document part (Word's separators between them and the page left out), each on one
    line as a table cell is read (see ``_WordReader.on_one_line``): its list items with their markers, counted in the
    notes' order apart from the body's lists (the notes are read before the body)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml.parser import parse_xml

    reader = _WordReader(styles, _Notes({}), _numbering_of(part))
    texts: dict[tuple[str, str], str] = {}
    for kind, relationship in (("footnote", RELATIONSHIP_TYPE.FOOTNOTES), ("endnote", RELATIONSHIP_TYPE.ENDNOTES)):
        try:
            notes = parse_xml(part.part_related_by(relationship).blob)
        except KeyError:
            continue
        for note in _xpath(f"./w:{kind}[not(@w:type) or @w:type='normal']")(notes):
            texts[(kind, note.get(f"{{{_WORDPROCESSING}}}id"))] = reader.on_one_line(note)
    return _Notes(texts)
