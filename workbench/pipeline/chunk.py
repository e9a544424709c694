"""Chunking strategies: recursive characters, embedding-model tokens, markdown headers, sentences.

``chunk_corpus`` is pure given a tokenizer: same corpus and spec, same chunks (with stable ids and offsets); a process
keeps the chunks of the corpora it cut last, so a sweep run again in a notebook does not cut its corpus again.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from workbench import grid
from workbench.datasets import Corpus, Document, Source, page_starts, pages_between
from workbench.metrics import percentile
from workbench.spec import ChunkerSpec

__all__ = [
    "Chunk",
    "ChunkStats",
    "LengthBin",
    "Segment",
    "chunk_corpus",
    "chunk_document",
    "chunk_segments",
    "chunk_stats",
    "chunks_digest",
    "count_truncated",
    "length_histogram",
]

Tokenizer = Any  # the embedding model's tokenizer: anything with a Hugging Face tokenizer's encode(text, add_special_tokens)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document. ``start``/``end`` are character offsets in the document (-1 if not locatable);
    ``pages``: the first and last page of a paged document (a PDF's) it lies on, None for others."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    header: str = ""
    pages: tuple[int, int] | None = None

    @property
    def source(self) -> str:
        """Where it comes from, as a reader and a label name it: its document's id, with its pages (``handbook#page=3-4``)
        when known."""
        return str(Source(self.doc_id, self.pages))

    def on_pages(self, starts: Sequence[int] | None) -> Chunk:
        """This chunk with the pages it lies on in a document whose pages start at ``starts`` (None: a document without
        pages, whose chunks lie on none, whatever an index built for a paged copy of its text kept)."""
        pages = None if starts is None else pages_between(starts, self.start, self.end)
        return self if pages == self.pages else replace(self, pages=pages)


# Characters of Chinese and Japanese (Han, kana, half-width katakana), written with no space after a full stop or comma,
# even when it is typed half width ("你好吗?我很好!", or any text normalised to NFKC, which makes "！？，；" "!?,;")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff"
_STOPS = "\u3002\uff01\uff1f\uff61!?"  # 。！？｡ and, after such a character, ! and ?: a run of them ends one sentence ("本当！？")
_CLAUSE_MARKS = "\uff1b\uff0c\u3001"  # full-width semicolon and comma, ideographic comma
_CJK_COMMA = rf"(?<=[{_CJK}])[,;]"  # a half-width comma or semicolon closing a Chinese or Japanese clause
# The splitter's separators, as regular expressions: its default ones (paragraphs, lines, words, then characters: see
# ``_between_characters``) in Windows (\r\n) and old Mac (\r) line endings too, and before words the Chinese and
# Japanese full stops (with the stops that follow them: "！？", "。。。"), half-width ones after a Chinese or Japanese
# character, the Myanmar and Khmer full stops (။ ។: these scripts do not space their words either), then the Chinese and
# Japanese clause marks (；，、, and "," or ";" after such a character). The splitter cuts at the first one a text
# contains, so ASCII text splits as with the defaults. A separator stays at the end of the piece it closes, so a chunk
# ends with its full stop or comma rather than the next one starting with it.
_SEPARATORS = (*map(re.escape, ("\r\n\r\n", "\n\n", "\r\r", "\r\n", "\n", "\r")),
               *(rf"{stop}[{_STOPS}]*" for stop in "\u3002\uff01\uff1f"), rf"(?<=[{_CJK}])[.!?][{_STOPS}]*", "\u104b", "\u17d4",
               *_CLAUSE_MARKS, _CJK_COMMA, " ")


def _splitter(spec: ChunkerSpec, length: Callable[[str], int]) -> Callable[[str], list[str]]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=spec.size, chunk_overlap=spec.overlap, length_function=length,
                                              separators=[*_SEPARATORS, _between_characters()], is_separator_regex=True,
                                              keep_separator="end")
    return splitter.split_text


def _recursive(spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Callable[[str], list[str]]:
    return _splitter(spec, len)


def _length(spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Callable[[str], int]:
    """The length a chunker's ``size`` and ``overlap`` count: characters, or the embedding model's tokens."""
    if spec.strategy != "token":
        return len
    if tokenizer is None:
        raise ValueError("the token chunker needs the embedding model's tokenizer")
    # remembered: the splitter measures each piece two or three times (to split, to merge, to drop it from the overlap),
    # and a long line's words and a page's repeated lines again and again (20,000 words: 39,000 tokenizer calls)
    return lru_cache(maxsize=_MEASURED)(lambda text: len(tokenizer.encode(text, add_special_tokens=False)))


_MEASURED = 8192  # pieces whose token count the token chunker keeps while it cuts a document


def _token(spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Callable[[str], list[str]]:
    return _splitter(spec, _length(spec, tokenizer))


_CLOSERS = "\"'”’»)\\]」』）"  # what may follow a full stop inside its sentence: quotes, brackets
_BREAK = re.compile(
    # . ! ? … Devanagari dandas, Arabic ? and Urdu full stop, Armenian full stop, Ethiopic full stop and question mark,
    # Tibetan shads, then space
    rf"(?P<spaced>[.!?…।॥؟۔։።፧།༎][{_CLOSERS}]*)\s+"
    # Chinese and Japanese 。！？ (and the ones after it: "本当！？", "。。。"): no space follows them; the full-width full
    # stop of Japanese technical writing ("提案する．"), not between digits ("３．５"); and . ! ? typed half width between
    # two Chinese or Japanese characters ("你好吗?我很好", "提案する.次に"); the Myanmar and Khmer full stops likewise
    rf"|(?P<unspaced>(?:[。！？｡။។៕]|．(?![0-9０-９])|(?<=[{_CJK}{_CLOSERS}])[.!?](?=[{_STOPS}{_CLOSERS}]*[{_CJK}「『（]))"
    rf"[{_STOPS}]*[{_CLOSERS}]*)\s*"
    r"|(?:\r?\n|\r(?!\n)){2,}"  # a paragraph: 2+ line ends, any kind
)
_PARAGRAPH = re.compile(r"(?:\r?\n|\r(?!\n)){2,}")
_QUOTATIVE = "とっ"  # the Japanese particles after a quotation ("と", "って")
_OPENERS = "\"'([`*“‘«¿¡「『（"


def _starts_sentence(char: str) -> bool:
    """Whether a sentence can start with ``char`` after a full stop and a space: a capital or a letter of a script
    without case (Devanagari, Arabic, Hebrew, CJK ...) or that starts sentences in lower case (Georgian), a digit, an
    opening quote or bracket; not a lower-case letter (``e.g. this`` goes on)."""
    return (char.isupper() or char.isdigit() or char in _OPENERS or (char.isalpha() and not char.islower())
            or "\u10d0" <= char <= "\u10ff")


def _breaks(text: str) -> Iterator[tuple[int, int]]:
    """``(end of a sentence, start of the next)`` for each sentence or paragraph break of ``text``."""
    for m in _BREAK.finditer(text):
        following = text[m.end() : m.end() + 1]
        if m["spaced"] is not None:
            if following and (_starts_sentence(following) or _PARAGRAPH.search(m[0])):
                yield m.end("spaced"), m.end()
        elif m["unspaced"] is not None:
            # a Japanese quotation ends with its own full stop, and the sentence quoting it goes on: 「はい。」と言った。
            quoted = m["unspaced"][-1] in "」』" and following in _QUOTATIVE
            if following and not quoted:
                yield m.end("unspaced"), m.end()
        else:
            yield m.start(), m.end()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and paragraphs) of a text, whitespace trimmed; no model or download.

    A sentence ends at ``. ! ? …`` (with its closing quotes or brackets) followed by a space and a sentence start (see
    ``_starts_sentence``), at the Devanagari, Arabic, Urdu, Armenian, Ethiopic and Tibetan full stops likewise, at the
    Myanmar and Khmer ones and Chinese and Japanese ``。！？``
    (a run of them, "本当！？", ends one sentence; and Japanese technical writing's ``．``, not between digits) with or
    without a space, at ``. ! ?`` typed half width between two Chinese or Japanese characters ("你好吗?我很好"), and at a
    paragraph break."""
    spans = []
    cursor = 0
    for stop, after in [*_breaks(text), (len(text), len(text))]:
        piece = text[cursor:stop]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((cursor + lead, cursor + len(piece.rstrip())))
        cursor = after
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences (and paragraphs) of a text."""
    return [text[a:b] for a, b in sentence_spans(text)]


@lru_cache(maxsize=1)
def _joining() -> re.Pattern[str]:
    """A character that joins the one before it into what a reader sees as one character: a combining mark (an accent,
    a Thai or Devanagari vowel sign, a virama; variation selectors are marks too), a skin-tone modifier, a zero-width
    joiner, and the vowel and final consonant of a Hangul syllable written decomposed (NFD, as macOS writes it)."""
    # Marks outside the Basic Multilingual Plane are a class apart, tried only on such a character: in one class with
    # the others, every character of a text was compared with each range of it (a megabyte took seconds)
    basic = _character_class(c for c in range(0x300, 0x10000) if unicodedata.category(chr(c))[0] == "M")
    astral = _character_class(c for c in (*range(0x10000, 0x1E950), *range(0xE0100, 0xE01F0)) if unicodedata.category(chr(c))[0] == "M")
    return re.compile(f"(?:[{basic}\u200d\u1160-\u11ff]|(?=[\U00010000-\U0010ffff])[{astral}\U0001f3fb-\U0001f3ff])")


def _character_class(codes: Iterable[int]) -> str:
    """The inside of a regular expression's character class matching the ascending code points ``codes``, as ranges."""
    spans: list[list[int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in spans)


def _splits_a_character(text: str, i: int) -> bool:
    """Whether cutting ``text`` at ``i`` splits what a reader sees as one character (see ``_joining``): before a
    combining mark, a skin-tone modifier or a decomposed Hangul vowel, or after a zero-width joiner (one emoji of
    several)."""
    if not 0 < i < len(text):
        return False
    return bool(_joining().match(text, i)) or text[i - 1] == "\u200d"


@lru_cache(maxsize=1)
def _between_characters() -> str:
    """The splitter's last separator: between two characters as a reader sees them (``_splits_a_character``), where
    the default "" split between code points, inside a Thai or Hindi syllable, an accent decomposed or a joined emoji."""
    return f"(?<=[\\s\\S])(?!{_joining().pattern})(?<!\u200d)"


def _cut_word(text: str, a: int, b: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Cut the word ``text[a:b]`` into pieces of at most ``size`` characters overlapping by at most ``overlap``, never
    inside a character (unless one character is longer than ``size``)."""
    pieces = []
    start = a
    while True:
        end = min(start + size, b)
        while end > start + 1 and _splits_a_character(text, end):
            end -= 1
        pieces.append((start, end))
        if end >= b:
            return pieces
        following = end - overlap
        while following < end and _splits_a_character(text, following):
            following += 1
        start = max(following, start + 1)


# A word, or a clause of Chinese or Japanese (which has no spaces between words) with the comma that closes it
_CLAUSE_END = rf"(?:[{_CLAUSE_MARKS}]|{_CJK_COMMA})"
_WORD = re.compile(rf"(?:(?!{_CLAUSE_END})\S)+{_CLAUSE_END}*|{_CLAUSE_END}+")


def _units(text: str, spans: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """What chunks are packed from: the sentences; a sentence longer than ``size`` as its words (a Chinese or Japanese
    one as its clauses); a word longer than ``size`` cut into pieces (see ``_cut_word``)."""
    units: list[tuple[int, int]] = []
    for a, b in spans:
        if b - a <= size:
            units.append((a, b))
            continue
        for word in _WORD.finditer(text[a:b]):
            units.extend(_cut_word(text, a + word.start(), a + word.end(), size, overlap))
    return units


def _pack(units: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily pack unit spans (see ``_units``) into chunk spans of at most ``size`` characters.

    A chunk carries its last whole units (up to ``overlap`` characters) into the next one.
    """
    chunks: list[tuple[int, int]] = []
    current: list[tuple[int, int]] = []
    for unit in units:
        if current and unit[1] - current[0][0] > size:
            chunks.append((current[0][0], current[-1][1]))
            carried = [u for u in current if current[-1][1] - u[0] <= overlap]
            current = [u for u in carried if unit[1] - u[0] <= size]
        current.append(unit)
    if current:
        chunks.append((current[0][0], current[-1][1]))
    return chunks


def _sentence_chunk_spans(spec: ChunkerSpec) -> Callable[[str], list[tuple[int, int]]]:
    """Where the sentence chunker's chunks lie in a text: it packs spans of the text, so they need no searching for."""
    return lambda text: _pack(_units(text, sentence_spans(text), spec.size, spec.overlap), spec.size, spec.overlap)


def _sentence(spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Callable[[str], list[str]]:
    spans = _sentence_chunk_spans(spec)
    return lambda text: [text[a:b] for a, b in spans(text)]


_FENCE = re.compile(r"\s*(`{3,}|~{3,})")  # a code fence: 3+ backticks or tildes (indented too, as in a list item)
_HEADER = re.compile(r"(#{1,3})\s+(.*)")
_CLOSING_HASHES = re.compile(r"(?:^|\s+)#+\s*$")  # "## Travel ##": the closing hashes are no part of the title
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")  # the line under a setext header: "Title\n=====" (level 1), "-----" (2)
# a line that cannot be a setext title: a list item, a quote, a table row, indented code
_NOT_A_TITLE = re.compile(r"[ \t]*(?:[-*+][ \t]|\d+[.)][ \t]|>|\|)| {4}|\t")
# YAML front matter (Jekyll, Hugo, MkDocs): a first line "---", closed by "---" or "..."; its "# comments" are no headers
_FRONT_MATTER = re.compile(r"---[ \t]*\r?\n(?:.*?(?:\r\n|\n|\r))??(?:---|\.\.\.)[ \t]*(?:\r\n|\n|\r|$)", re.DOTALL)


def _headers(text: str) -> dict[int, tuple[int, str]]:
    """The markdown headers (#..###, and setext ``Title`` over ``===`` or ``---``) of a text outside its code fences and
    YAML front matter: line offset -> (level, title).

    A fence (``` or ~~~, 3 or more) is closed only by a line of at least as many of the same character, so a
    ``# comment`` in a bash or Python block, or a ``` line inside a ```` block, is code, not a header. A setext title is
    one line after a blank one (a longer paragraph over ``---`` is taken as text and a rule).
    """
    headers: dict[int, tuple[int, str]] = {}
    fence = ""
    front = _FRONT_MATTER.match(text)
    offset = front.end() if front else 0
    title: tuple[int, str] | None = None  # a one-line paragraph: a setext header's title if an underline follows
    after_break = True  # at the start, or after a blank line, a header or a fence
    for line in text[offset:].splitlines(keepends=True):
        bare = line.splitlines()[0]  # without its line end
        opening = _FENCE.match(bare)
        paragraph = None
        if fence:
            if opening and set(bare.strip()) == {fence[0]} and len(bare.strip()) >= len(fence):
                fence = ""
        elif opening:
            fence = opening.group(1)
        elif match := _HEADER.fullmatch(bare):
            headers[offset] = (len(match.group(1)), _CLOSING_HASHES.sub("", match.group(2).strip()))
        elif title and (underline := _SETEXT.fullmatch(bare)):
            headers[title[0]] = (1 if underline.group(1)[0] == "=" else 2, title[1])
        elif bare.strip():
            paragraph = bare
        title = (offset, bare.strip()) if paragraph and after_break and not _NOT_A_TITLE.match(paragraph) else None
        after_break = paragraph is None
        offset += len(line)
    return headers


def _markdown_sections(text: str) -> list[tuple[str, str]]:
    """Split on markdown headers (#..###, setext), keeping each header with its section; returns (header path, text).

    Each section is a stretch of ``text`` as it is (line endings kept), so it can be found in it.
    """
    sections: list[tuple[str, str]] = []
    path: list[str] = []
    headers = _headers(text)
    start = 0
    for offset, (level, title) in [*headers.items(), (len(text), (0, ""))]:
        body = text[start:offset].strip()
        if body:
            sections.append((" > ".join(path), body))
        path = path[: level - 1] + [title]
        start = offset
    return sections


def _markdown(spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Callable[[str], list[str]]:
    inner = _recursive(spec, tokenizer)

    def split(text: str) -> list[str]:
        out: list[str] = []
        for _, section in _markdown_sections(text):
            out.extend(inner(section) if len(section) > spec.size else [section])
        return out

    return split


_STRATEGIES: dict[str, Callable[[ChunkerSpec, Tokenizer | None], Callable[[str], list[str]]]] = {
    "recursive": _recursive,
    "token": _token,
    "markdown": _markdown,
    "sentence": _sentence,
}


def _header_lookup(text: str) -> Callable[[int], str]:
    """A lookup from a character offset of ``text`` to the title of the last markdown header (#..###, setext, outside
    code fences and front matter) starting at or before it ("" when there is none, or for offset -1). The text is scanned once, not once
    per chunk."""
    headers = _headers(text)
    starts, titles = list(headers), [title for _, title in headers.values()]

    def header_at(start: int) -> str:
        before = bisect_right(starts, start) if start >= 0 else 0
        return titles[before - 1] if before else ""

    return header_at


def _first_fitting(text: str, low: int, end: int, overlap: int, length: Callable[[str], int]) -> int:
    """The first position from ``low`` on from which ``text`` up to ``end`` is at most ``overlap`` long (a binary
    search: the length of ``text[p:end]`` does not grow with ``p``)."""
    high = end
    while low < high:
        middle = (low + high) // 2
        if length(text[middle:end]) > overlap:
            low = middle + 1
        else:
            high = middle
    return low


def _place(text: str, piece: str, previous: tuple[int, int], overlap: int, length: Callable[[str], int]) -> int:
    """Where a chunk's text starts in its document (-1: not found as it is), given the last placed chunk's span.

    A chunk starts after the previous one starts, ends after it ends and shares at most ``overlap`` (in the chunker's
    ``length``) with it, so a text that repeats (a log's lines, a table's rows, one long word) is not placed over an
    earlier copy.
    """
    before, end = previous
    start = text.find(piece, max(before + 1, end - len(piece)))
    if start >= 0 and start + len(piece) == end:
        # the previous chunk's last characters again: the splitter repeats them when they fit in the overlap (the end of
        # a long unbroken run), unless the same text follows across whitespace (two lines alike, e.g. ``` and ```)
        after = text.find(piece, end)
        if after >= 0 and not text[end:after].strip():
            start = after
    if 0 <= start < end and length(text[start:end]) > overlap:
        start = text.find(piece, _first_fitting(text, start + 1, end, overlap, length))
    return start if start >= 0 else text.find(piece)


def _placed(text: str, pieces: Sequence[str], spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Iterator[tuple[str, int]]:
    """Each piece a splitter cut from ``text`` and where it starts in it (-1: not found), searched for in order (see
    ``_place``); where that search leaves text no chunk holds (a text that repeats, where it took another copy of a
    piece), the placements that leave none (see ``_covering``)."""
    length = _length(spec, tokenizer)
    starts: list[int] = []
    previous = (-1, 0)  # the last placed chunk's start and end
    for piece in pieces:
        start = _place(text, piece, previous, spec.overlap, length)
        if start >= 0:
            previous = (start, start + len(piece))
        starts.append(start)
    if not _covers(text, pieces, starts):
        starts = _covering(text, pieces) or starts
    return zip(pieces, starts)


_NOT_SPACE = re.compile(r"\S")


def _next_text(text: str, i: int) -> int:
    """The first position from ``i`` on that is not whitespace (``len(text)`` when there is none)."""
    found = _NOT_SPACE.search(text, i)
    return found.start() if found else len(text)


def _covers(text: str, pieces: Sequence[str], starts: Sequence[int]) -> bool:
    """Whether chunks at ``starts`` hold every character of ``text`` but whitespace, in order, each ending where or
    after the one before it ends: what a splitter's chunks do."""
    covered = 0  # the end of the chunks so far
    for piece, start in zip(pieces, starts):
        if start < 0 or start > _next_text(text, covered) or start + len(piece) < covered:
            return False
        covered = start + len(piece)
    return _next_text(text, covered) == len(text)


_KEPT = 4  # the earliest and the latest placements of a piece that ``_covering`` follows on (a run of one character
# offers one at every position: following all of them took minutes)


def _copies(text: str, piece: str, low: int, high: int) -> list[int]:
    """Where ``piece`` starts in ``text`` at ``low`` to ``high``: the first and the last ``_KEPT`` of them."""
    first: list[int] = []
    at = text.find(piece, low, high + len(piece))
    while 0 <= at <= high and len(first) < _KEPT:
        first.append(at)
        at = text.find(piece, at + 1, high + len(piece))
    last: list[int] = []
    at = text.rfind(piece, low, high + len(piece))
    while at > (first[-1] if first else low - 1) and len(last) < _KEPT:
        last.append(at)
        at = text.rfind(piece, low, at + len(piece) - 1)
    return first + last[::-1]


def _covering(text: str, pieces: Sequence[str]) -> list[int] | None:
    """Starts for ``pieces`` at which they cover ``text`` as a splitter's chunks do (see ``_covers``), each after the one
    before it; None when none is found. The placements reachable piece by piece (the earliest and latest ``_KEPT`` of
    each piece) are kept, each with the one it came from, so a copy taken too early or too late is given up for another
    (a text that repeats offers several)."""
    reached: list[dict[int, int]] = []  # for each piece: start -> the previous piece's start
    ends = {0: -1}  # the ends reached by the pieces so far, with the start that reached each
    for piece in pieces:
        found: dict[int, int] = {}
        for end, before in sorted(ends.items()):
            last = _next_text(text, end)  # a chunk cannot start past the next character to cover
            for at in _copies(text, piece, max(before + 1, end - len(piece)), last):
                found.setdefault(at, before)
        if not found:
            return None
        reached.append(found)
        starts = sorted(found)
        ends = {start + len(piece): start for start in (*starts[:_KEPT], *starts[-_KEPT:])}
    final = [start for start in reached[-1] if _next_text(text, start + len(pieces[-1])) == len(text)] if reached else []
    if not final:
        return None
    starts = [min(final)]
    for found in reversed(reached[1:]):
        starts.append(found[starts[-1]])
    return starts[::-1]


def _pieces(text: str, spec: ChunkerSpec, tokenizer: Tokenizer | None) -> Iterator[tuple[str, int]]:
    """The chunks' texts of ``text`` (whitespace-only ones left out) and where each starts. The sentence chunker knows
    where it cut: its chunks were searched for in the text like a splitter's, and in a text that repeats (a log's lines,
    a table's rows) found at another copy, so the explorer showed a stretch it covers as in no chunk."""
    if spec.strategy == "sentence":
        return ((text[a:b], a) for a, b in _sentence_chunk_spans(spec)(text) if text[a:b].strip())
    return _placed(text, [p for p in _STRATEGIES[spec.strategy](spec, tokenizer)(text) if p.strip()], spec, tokenizer)


def chunk_document(doc: Document, spec: ChunkerSpec, tokenizer: Tokenizer | None = None) -> list[Chunk]:
    """Cut one document into chunks with stable ids (``doc_id#n-hash``) and character offsets."""
    header_at = _header_lookup(doc.text) if spec.strategy == "markdown" else lambda start: ""
    starts = page_starts(doc.metadata)
    chunks = []
    for n, (piece, start) in enumerate(_pieces(doc.text, spec, tokenizer)):
        end = start + len(piece) if start >= 0 else -1
        digest = hashlib.sha1(piece.encode()).hexdigest()[:8]
        chunk = Chunk(id=f"{doc.id}#{n}-{digest}", doc_id=doc.id, text=piece, start=start, end=end, header=header_at(start))
        chunks.append(chunk.on_pages(starts))
    return chunks


def chunk_corpus(corpus: Corpus, spec: ChunkerSpec, tokenizer: Tokenizer | None = None) -> list[Chunk]:
    """Chunk every document of a corpus.

    The chunks of the last corpora cut (``_KEPT_CUTS``, ``_KEPT_CHARS`` of text at most) are kept for the process, by
    the corpus's hash (its pages too), the chunker, the chunking revision, the function that cuts (another one put in its place cuts
    otherwise: a test, a newer chunker) and, for the token chunker, the tokenizer object: a sweep run again, or another
    sweep of the corpus, gets them without cutting it again. The list is the caller's own.
    """
    key = (corpus.hash, spec.model_dump_json(), grid.CHUNKING_REVISION, _STRATEGIES[spec.strategy],
           id(tokenizer) if spec.strategy == "token" else None)
    with _CUTS_LOCK:
        kept = _CUTS.get(key)
        if kept is not None:
            _CUTS.move_to_end(key)
            return list(kept.chunks)
    chunks = tuple(chunk for doc in corpus.documents for chunk in chunk_document(doc, spec, tokenizer))
    _keep(key, _Cut(chunks, sum(len(c.text) for c in chunks), tokenizer if spec.strategy == "token" else None))
    return list(chunks)


@dataclass(frozen=True)
class _Cut:
    """A corpus's chunks as ``chunk_corpus`` keeps them; ``tokenizer``: the token chunker's, held so that its ``id`` in
    the key names no other tokenizer while they are kept."""

    chunks: tuple[Chunk, ...]
    chars: int
    tokenizer: Tokenizer | None


# corpus hash, chunker (JSON), chunking revision, the strategy's function, id of the token chunker's tokenizer, where the
# pages of its paged documents start (metadata, which its hash leaves out)
_CutKey = tuple[str, str, int, Callable[..., Any], int | None, tuple[tuple[str, tuple[int, ...]], ...]]
_CUTS: OrderedDict[_CutKey, _Cut] = OrderedDict()  # least recently used first
_CUTS_LOCK = threading.Lock()  # a notebook's sweeps and chunk explorer run in threads
_KEPT_CUTS = 8  # corpora x chunkers a process keeps the chunks of
_KEPT_CHARS = 20_000_000  # characters of chunk text, all kept cuts together (a larger corpus is cut each time, not kept)


def _keep(key: _CutKey, cut: _Cut) -> None:
    """Keep ``cut`` as the most recently used, dropping the least recently used ones past the bounds."""
    if cut.chars > _KEPT_CHARS:
        return
    with _CUTS_LOCK:
        _CUTS[key] = cut
        _CUTS.move_to_end(key)
        while len(_CUTS) > _KEPT_CUTS or sum(c.chars for c in _CUTS.values()) > _KEPT_CHARS:
            _CUTS.popitem(last=False)


@dataclass(frozen=True)
class ChunkStats:
    """Chunk lengths in characters; ``truncated``: the chunks longer than the embedding model reads, of which only the
    beginning is embedded (None when the model's input limit is unknown, e.g. a hosted model, or a run logged before);
    ``sha256``: ``chunks_digest`` of the chunks (None for no chunks, or an index or run of an older workbench)."""

    count: int
    documents: int
    mean_chars: float
    median_chars: float
    min_chars: int
    max_chars: int
    p95_chars: float
    truncated: int | None = None
    sha256: str | None = None

    def as_dict(self) -> dict[str, float | str]:
        return {k: v if isinstance(v, str) else float(v) for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, float | str]) -> ChunkStats:
        """The inverse of ``as_dict`` (counts come back as ints)."""
        counts = ("count", "documents", "min_chars", "max_chars", "truncated")
        return cls(**{k: v if isinstance(v, str) else int(v) if k in counts else float(v) for k, v in data.items()})  # type: ignore[arg-type]


def chunk_stats(chunks: Sequence[Chunk], *, truncated: int | None = None) -> ChunkStats:
    """Summary statistics of chunk lengths (characters), with the count of chunks the embedding model truncates."""
    lengths = sorted(len(c.text) for c in chunks)
    if not lengths:
        return ChunkStats(0, 0, 0.0, 0.0, 0, 0, 0.0, truncated)
    n = len(lengths)
    return ChunkStats(
        count=n,
        documents=len({c.doc_id for c in chunks}),
        mean_chars=sum(lengths) / n,
        median_chars=percentile(lengths, 50),
        min_chars=lengths[0],
        max_chars=lengths[-1],
        p95_chars=percentile(lengths, 95),
        truncated=truncated,
        sha256=chunks_digest(chunks),
    )


def chunks_digest(chunks: Sequence[Chunk]) -> str:
    """The sha256 of the chunks' ids and texts, in order: equal exactly when a corpus was cut into the same chunks (a
    bundle checks the chunks a newer workbench cuts against the ones its run retrieved from)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(json.dumps([chunk.id, chunk.text]).encode() + b"\n")
    return digest.hexdigest()


def count_truncated(chunks: Sequence[Chunk], count_tokens: Callable[[str], int], input_tokens: int | None) -> int | None:
    """How many chunks are longer than ``input_tokens`` (the embedding model reads only that many; the rest of such a
    chunk is never embedded, so retrieval cannot find it); None when the limit is unknown."""
    if input_tokens is None:
        return None
    return sum(1 for c in chunks if count_tokens(c.text) > input_tokens)


# -- exploring a chunker (what the chunk explorer shows) ------------------------------------------------------------


@dataclass(frozen=True)
class LengthBin:
    """One bar of a chunk-length histogram: chunks with ``start <= len(text) < end`` characters."""

    start: int
    end: int
    count: int


def length_histogram(chunks: Sequence[Chunk], bins: int = 20) -> list[LengthBin]:
    """Histogram of chunk lengths (characters) in ``bins`` equal-width bars covering the shortest to the longest.

    The last bar includes the longest chunk. No chunks, no bars.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    lengths = [len(c.text) for c in chunks]
    if not lengths:
        return []
    low, high = min(lengths), max(lengths)
    width = max(1, -(-(high - low + 1) // bins))  # ceil, so bins * width covers [low, high]
    counts = [0] * bins
    for n in lengths:
        counts[min((n - low) // width, bins - 1)] += 1
    edges = [low + i * width for i in range(bins + 1)]
    out = [LengthBin(edges[i], edges[i + 1], counts[i]) for i in range(bins)]
    while out and out[-1].count == 0:  # trailing empty bars say nothing
        out.pop()
    return out


@dataclass(frozen=True)
class Segment:
    """A stretch ``[start, end)`` of a document and the chunks that contain it (by position in the chunk list).

    No chunks: text no chunk kept (whitespace between chunks, or a dropped separator). Two or more: an overlap.
    """

    start: int
    end: int
    chunks: tuple[int, ...]


def chunk_segments(text: str, chunks: Sequence[Chunk]) -> list[Segment]:
    """Cut a document's text where chunk boundaries fall, to show which chunk covers what.

    Args:
        text: the document text the chunks were cut from.
        chunks: that document's chunks (from ``chunk_document``); chunks without offsets (``start == -1``) are ignored.

    Returns:
        Consecutive segments covering the whole text, each with the indexes of the chunks that contain it.
    """
    spans = [(i, c.start, c.end) for i, c in enumerate(chunks) if 0 <= c.start < c.end]
    cuts = sorted({0, len(text), *(s for _, s, _ in spans), *(e for _, _, e in spans)})
    starting: dict[int, list[int]] = {}
    ending: dict[int, list[int]] = {}
    for i, s, e in spans:
        starting.setdefault(s, []).append(i)
        ending.setdefault(e, []).append(i)
    covering: set[int] = set()  # the chunks over the segment that starts at the current cut (one pass, not one per cut)
    segments = []
    for a, b in zip(cuts, cuts[1:]):
        covering.difference_update(ending.get(a, ()))
        covering.update(starting.get(a, ()))
        segments.append(Segment(a, b, tuple(sorted(covering))))
    return segments
