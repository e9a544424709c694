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


DIAGRAM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_NAMESPACES = (f'xmlns:dgm="{DIAGRAM}" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
               'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def add_diagram(slide: Any, nodes: Sequence[tuple[str, Sequence[str]]], *, left: float, top: float) -> None:
    """A SmartArt graphic at ``left``, ``top`` (inches) of these nodes and their children, as PowerPoint writes its data
    part: a document point, a point a node (the children's written first, so that their order is only the
    connections'), the connections' own points of no text, and the connections between them (``parOf``, by
    ``srcOrd``); its layout, colours and drawn shapes left out."""
    from pptx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
    from pptx.opc.package import Part
    from pptx.opc.packuri import PackURI
    from pptx.oxml import parse_xml

    def point(model: str, text: str | None = None, kind: str = "") -> str:
        typed = f' type="{kind}"' if kind else ""
        body = f"<dgm:t><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r></a:p></dgm:t>" if text is not None else ""
        return f'<dgm:pt modelId="{model}"{typed}><dgm:prSet/><dgm:spPr/>{body}</dgm:pt>'

    points, connections = [point("doc", kind="doc")], []
    for n, (text, children) in enumerate(nodes):
        for m, child in reversed(list(enumerate(children))):
            points.append(point(f"{n}.{m}", child))
            connections.append(f'<dgm:cxn modelId="c{n}.{m}" srcId="{n}" destId="{n}.{m}" srcOrd="{m}" destOrd="0"/>')
        points += [point(str(n), text), point(f"t{n}", kind="parTrans"), point(f"s{n}", kind="sibTrans"), point(f"p{n}", kind="pres")]
        connections.append(f'<dgm:cxn modelId="c{n}" srcId="doc" destId="{n}" srcOrd="{n}" destOrd="0" parTransId="t{n}" sibTransId="s{n}"/>')
        connections.append(f'<dgm:cxn modelId="p{n}" type="presOf" srcId="{n}" destId="p{n}" srcOrd="0" destOrd="0"/>')
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<dgm:dataModel {_NAMESPACES}><dgm:ptLst>{"".join(points)}'
           f'</dgm:ptLst><dgm:cxnLst>{"".join(connections)}</dgm:cxnLst></dgm:dataModel>')
    package = slide.part.package
    name = f"/ppt/diagrams/data{len([p for p in package.iter_parts() if p.partname.startswith('/ppt/diagrams/')]) + 1}.xml"
    data = Part(PackURI(name), CONTENT_TYPE.DML_DIAGRAM_DATA, package, xml.encode())
    rid = slide.part.relate_to(data, RELATIONSHIP_TYPE.DIAGRAM_DATA)
    slide.shapes._spTree.append(parse_xml(
        f'<p:graphicFrame xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" {_NAMESPACES}><p:nvGraphicFramePr>'
        '<p:cNvPr id="90" name="Diagram"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>'
        f'<p:xfrm><a:off x="{Inches(left)}" y="{Inches(top)}"/><a:ext cx="{Inches(6)}" cy="{Inches(2)}"/></p:xfrm>'
        f'<a:graphic><a:graphicData uri="{DIAGRAM}"><dgm:relIds r:dm="{rid}" r:lo="" r:qs="" r:cs=""/></a:graphicData></a:graphic>'
        '</p:graphicFrame>'))


def png_bytes() -> bytes:
    """A small PNG image (one white pixel, scaled up where it is placed)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(out, format="PNG")
    return out.getvalue()


def add_picture(shapes: Any, *, left: float, top: float, descr: str | None = None, title: str | None = None) -> Any:
    """A picture at ``left``, ``top`` (inches), 3 inches wide; its alt text ``descr`` (and ``title``) as PowerPoint's
    Edit Alt Text writes it, else the file name python-pptx writes there (``image.png``)."""
    picture = shapes.add_picture(io.BytesIO(png_bytes()), Inches(left), Inches(top), Inches(3), Inches(2))
    properties = picture.element.nvPicPr.cNvPr
    if descr is not None:
        properties.set("descr", descr)
    if title is not None:
        properties.set("title", title)
    return picture
