"""The visible text of a corpus folder's HTML pages, read with BeautifulSoup (Python's own "html.parser"): its blocks
(headings, paragraphs, list items, table rows) on lines of their own, so that chunkers split where the page does."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from workbench.datasets._formats import Extracted

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

# what a browser does not show as the page's text; <head> holds <title>, taken apart
_HIDDEN = frozenset({"head", "script", "style", "noscript", "template", "svg", "iframe", "object"})
# blocks a blank line separates, as markdown's paragraphs are (a recursive chunker cuts at blank lines first)
_PARAGRAPHS = frozenset({"address", "article", "aside", "blockquote", "dl", "details", "div", "fieldset", "figure",
                         "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav",
                         "ol", "p", "pre", "section", "summary", "table", "ul"})
# blocks on a line of their own
_LINES = frozenset({"br", "caption", "dd", "dt", "li", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"\s+")
# where blocks start and end, as characters pages do not hold (C0 separators, not allowed in HTML), until the text is
# laid out in lines
_PARAGRAPH, _LINE = "\x1e", "\x1f"
_MARKS = re.compile(r" *[\x1e\x1f][\s\x1e\x1f]*")  # with the spaces around them
# a charset a page declares in its first bytes: <meta charset="..."> or <meta http-equiv="Content-Type" content="...; charset=...">
_DECLARED_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def declared_charset(data: bytes) -> str | None:
    """The encoding an HTML page declares in its first 2 KB, when Python knows it and it is not UTF-8 (pure): a page
    saved by a browser from a Windows-1252 or Shift JIS site says so in a <meta> tag."""
    found = _DECLARED_CHARSET.search(data[:2048])
    if found is None:
        return None
    try:
        name = codecs.lookup(found.group(1).decode("ascii")).name
    except LookupError:
        return None
    return None if name == "utf-8" else name


def html_text(markup: str) -> Extracted:
    """The visible text of an HTML page (pure): scripts, styles and <head> dropped, entities decoded, each heading,
    paragraph, list item and table row on a line of its own and paragraphs apart, whitespace as a browser collapses
    it (kept inside <pre>). The page's <title> is the first line unless the text already starts with it (its <h1>
    often does), and is kept as metadata."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title_tag = next((t for t in soup.find_all("title") if t.find_parent("svg") is None), None)  # an icon's <title> is no page's
    title = _SPACES.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    text = _tidy("".join(_visible_pieces(soup)))
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}".strip()
    return Extracted(text, {"title": title} if title else {})


def _visible_pieces(soup: BeautifulSoup) -> Iterator[str]:
    """The page's visible strings in order, with marks where its blocks start and end and a separator before each
    table cell. Walked once, with a stack of its open elements rather than recursion (a page may nest deeper than Python
    recurses) or edits of the tree (each of which bs4 does in time linear in an element's siblings: a 15 MB page took
    two minutes)."""
    from bs4.element import NavigableString, PreformattedString, Tag

    stack: list[tuple[Iterator[object], str, bool]] = [(iter(soup.contents), "", False)]
    while stack:
        children, after, in_pre = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            yield after
        elif isinstance(node, Tag) and node.name not in _HIDDEN:
            mark = _PARAGRAPH if node.name in _PARAGRAPHS else _LINE if node.name in _LINES else ""
            # a separator before each cell, not after it: html.parser closes no element the page leaves open, so the
            # cells of '<tr><td>a<td>b' are nested, and end together
            yield " | " if node.name in _CELLS else mark
            stack.append((iter(node.contents), mark, in_pre or node.name == "pre"))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):  # not comments, <!DOCTYPE>, CDATA
            yield str(node) if in_pre else _SPACES.sub(" ", node)


def _tidy(text: str) -> str:
    """The marked text as lines (pure): a run of marks is a blank line when a paragraph's is among them, else one line
    break; the spaces beside them, and the separator before a row's first cell, dropped."""
    lines = _MARKS.sub(lambda run: "\n\n" if _PARAGRAPH in run.group() else "\n", text).split("\n")
    return "\n".join(line.removeprefix("| ").rstrip() for line in lines).strip()
