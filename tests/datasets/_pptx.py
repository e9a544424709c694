"""Small real PowerPoint decks for corpus tests: .pptx files written by python-pptx from its default template, and what
PowerPoint writes that python-pptx has no call for (a hidden slide, a hidden shape) set in their XML."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from pptx.presentation import Presentation
from pptx.util import Inches

from tests.datasets._docx import _edited

# the default template's layouts
TITLE_SLIDE, TITLE_AND_CONTENT, TITLE_ONLY, BLANK = 0, 1, 5, 6


def pptx_bytes(build: Callable[[Presentation], object], *, title: str = "") -> bytes:
    """A .pptx whose slides ``build`` adds to python-pptx's default (empty) deck; ``title``: its core properties' title."""
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = title
    build(deck)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def add_slide(deck: Presentation, title: str | None = None, bullets: Sequence[str | tuple[int, str]] = (), *,
              notes: str = "", hidden: bool = False) -> Any:
    """A slide of the "Title and Content" layout (or "Blank" without a title or bullets): its title, its body's bullets
    (a text, or its level and text), its speaker notes; hidden as PowerPoint's Hide Slide hides it."""
    slide = deck.slides.add_slide(deck.slide_layouts[TITLE_AND_CONTENT if title is not None or bullets else BLANK])
    if title is not None:
        slide.shapes.title.text = title
    if bullets:
        frame = slide.placeholders[1].text_frame
        for n, bullet in enumerate(bullets):
            level, text = bullet if isinstance(bullet, tuple) else (0, bullet)
            paragraph = frame.paragraphs[0] if n == 0 else frame.add_paragraph()
            paragraph.text, paragraph.level = text, level
    else:
        for placeholder in [p for p in slide.placeholders if p.placeholder_format.idx != 0]:
            placeholder.element.getparent().remove(placeholder.element)  # an empty body placeholder: no text, left as PowerPoint leaves it
    if notes:
        slide.notes_slide.notes_text_frame.text = notes
    if hidden:
        slide.element.set("show", "0")
    return slide


def add_text_box(shapes: Any, text: str, *, left: float, top: float, width: float = 3, hidden: bool = False) -> Any:
    """A text box at ``left``, ``top`` (inches) holding ``text``, a paragraph a line."""
    box = shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(1))
    box.text_frame.text = text
    if hidden:
        box.element.nvSpPr.cNvPr.set("hidden", "1")
    return box


def with_main_content_type(data: bytes, content_type: str) -> bytes:
    """The same .pptx with its main part declared as another content type (a template's, a show's, a macro-enabled deck's)."""
    return _edited(data, "[Content_Types].xml", rb'(PartName="/ppt/presentation.xml" ContentType=")[^"]+', rb"\g<1>" + content_type.encode())
