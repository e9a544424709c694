import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from workbench.datasets import Corpus, Document, load_corpus
from workbench.pipeline import chunk as chunk_module
from workbench.pipeline import chunk_corpus, chunk_document, chunk_stats
from workbench.pipeline.chunk import split_sentences
from workbench.spec import ChunkerSpec
from workbench.testing import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
PROSE = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))
MARKDOWN = "# Handbook\nIntro line.\n\n## Travel\nBook trains early. Keep receipts.\n\n### Hotels\nMax 150 EUR per night.\n\n## Leave\n25 days per year.\n"


@pytest.mark.parametrize("strategy", ["recursive", "sentence", "markdown", "token"])
def test_chunks_cover_the_text_with_locatable_offsets(strategy: str) -> None:
    doc = Document("d", PROSE)
    size = 40 if strategy == "token" else 300
    chunks = chunk_document(doc, ChunkerSpec(strategy=strategy, size=size, overlap=size // 10), HashingEmbedder().tokenizer)
    assert len(chunks) > 1
    for c in chunks:
        assert c.start >= 0 and doc.text[c.start : c.end] == c.text
        if strategy != "token":
            assert len(c.text) <= 300
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks == chunk_document(doc, ChunkerSpec(strategy=strategy, size=size, overlap=size // 10), HashingEmbedder().tokenizer)


def test_overlap_repeats_text_between_neighbours() -> None:
    chunks = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="sentence", size=200, overlap=60))
    assert any(a.end > b.start for a, b in zip(chunks, chunks[1:]))
    no_overlap = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="sentence", size=200, overlap=0))
    assert all(a.end <= b.start for a, b in zip(no_overlap, no_overlap[1:]))


def test_markdown_chunks_follow_headers() -> None:
    chunks = chunk_document(Document("hb", MARKDOWN), ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [c.text.splitlines()[0] for c in chunks] == ["# Handbook", "## Travel", "### Hotels", "## Leave"]
    assert [c.header for c in chunks] == ["Handbook", "Travel", "Hotels", "Leave"]


SETEXT_MARKDOWN = (
    "---\ntitle: Handbook\n# shown as the page title\nlayout: page\n---\n\nHandbook\n========\n\nIntro line.\n\nTravel\n------\n"
    "Book trains early.\n\n### Hotels ###\nMax 150 EUR per night.\n\n- a list item\n---\n\nLeave\n-----\n25 days per year.\n"
)


def test_markdown_chunks_follow_setext_headers_and_not_front_matter_comments() -> None:
    # "Title\n=====" split nothing (a README's headers gave one chunk), the YAML comment of the front matter was taken
    # for a header, and "### Hotels ###" was titled "Hotels ###"
    chunks = chunk_document(Document("hb", SETEXT_MARKDOWN), ChunkerSpec(strategy="markdown", size=500, overlap=0))
    assert [(c.header, c.text.splitlines()[0]) for c in chunks] == [
        ("", "---"), ("Handbook", "Handbook"), ("Travel", "Travel"), ("Hotels", "### Hotels ###"), ("Leave", "Leave")]
    assert chunks[0].text.endswith("layout: page\n---") and chunks[3].text.endswith("- a list item\n---")  # a rule, not a title


def test_token_chunker_counts_with_the_embedding_tokenizer() -> None:
    from workbench.models import MINILM_ID, load_embedder

    embedder = load_embedder(MINILM_ID)
    chunks = chunk_document(Document("d", PROSE), ChunkerSpec(strategy="token", size=64, overlap=8), embedder.tokenizer)
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 64
    assert len(chunks) >= 7


def test_sentence_splitter_and_stats() -> None:
    assert split_sentences("One. Two! Three?\n\nFour") == ["One.", "Two!", "Three?", "Four"]
    chunks = chunk_corpus(Corpus("c", (Document("a", PROSE), Document("b", MARKDOWN))), ChunkerSpec(strategy="recursive", size=200, overlap=0))
    stats = chunk_stats(chunks)
    assert stats.count == len(chunks) and stats.documents == 2
    assert stats.min_chars <= stats.median_chars <= stats.max_chars <= 200


TRICKY_MARKDOWN = (
    "Preamble before any header.\n\n# Guide\nIntro.\n\n#### Too deep to count\nStill the guide.\n\n```\n# not a section\n```\n"
    "#\nA bare hash alone titles nothing.\n\n## Travel\n" + "Book trains early and keep every receipt. " * 30
    + "\n\n### Hotels\n" + "Max 150 EUR per night. " * 20 + "\n\n#nospace is no header\n\n## Travel\nBook trains early.\n"
)


def _header_by_rescanning(text: str, start: int) -> str:
    """The header lookup as it was: scan the whole document for headers at every chunk (code blanked out)."""
    if start < 0:
        return ""
    prose = re.sub(r"```.*?```", lambda m: re.sub(r"[^\n]", " ", m.group()), text, flags=re.S)
    headers = [m for m in re.finditer(r"^(#{1,3})[ \t]+(.*)$", prose, flags=re.M) if m.start() <= start]  # one line
    return headers[-1].group(2).strip() if headers else ""


@pytest.mark.parametrize(("size", "overlap"), [(60, 0), (300, 30), (800, 80)])
def test_markdown_headers_are_those_of_a_scan_per_chunk(size: int, overlap: int) -> None:
    docs = [Document("tricky", TRICKY_MARKDOWN), Document("hb", MARKDOWN), *load_corpus(ROOT / "datasets" / "handbook").documents]
    for doc in docs:
        chunks = chunk_document(doc, ChunkerSpec(strategy="markdown", size=size, overlap=overlap))
        assert [c.header for c in chunks] == [_header_by_rescanning(doc.text, c.start) for c in chunks], doc.id
    assert {c.header for c in chunk_document(docs[0], ChunkerSpec(strategy="markdown", size=60, overlap=0))} >= {"", "Guide", "Travel", "Hotels"}


def test_markdown_chunker_scans_the_document_for_headers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # a scan per chunk made a 1 MB document take a minute; count scans rather than time them
    text = "".join(f"## Part {i}\n" + f"Paragraph {i} says something worth a chunk. " * 8 + "\n\n" for i in range(60))
    scans = []
    scan = chunk_module._headers

    def counting(string: str) -> dict[int, tuple[int, str]]:
        scans.append(string == text)
        return scan(string)

    monkeypatch.setattr(chunk_module, "_headers", counting)
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy="markdown", size=300, overlap=30))
    assert len(chunks) >= 60 and chunks[-1].header == "Part 59"
    assert scans == [True, True]  # once to cut it into sections, once to give its chunks their headers


PACKING = "\n\n".join(f"Item {i} on the packing list: socks and a towel" for i in range(12))  # paragraphs, no full stops


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
@pytest.mark.parametrize("strategy", ["recursive", "sentence", "markdown"])
def test_windows_and_old_mac_line_ends_chunk_like_unix_ones(strategy: str, line_end: str) -> None:
    unix = MARKDOWN + "\n## Packing\n" + PACKING + "\n"
    doc = Document("d", unix.replace("\n", line_end))
    spec = ChunkerSpec(strategy=strategy, size=120, overlap=0)
    chunks, expected = chunk_document(doc, spec), chunk_document(Document("d", unix), spec)
    for c in chunks:
        assert c.start >= 0 and doc.text[c.start : c.end] == c.text
    assert [c.text.replace(line_end, "\n") for c in chunks] == [c.text for c in expected]
    assert [c.header for c in chunks] == [c.header for c in expected]
    if strategy == "markdown":
        assert {c.header for c in chunks} == {"Handbook", "Travel", "Hotels", "Leave", "Packing"}


# texts that repeat: one long word, a log's identical lines, a changelog's identical sections, a table's identical rows
REPEATING = {
    "word": "x" * 500,
    "log": "Checking the queue. Nothing to do.\r\nRetrying in five seconds.\r\n\r\n" * 30,
    "changelog": "## v2.0\n### Fixed\n- Minor bug fixes.\n" * 12 + "## v1.0\n### Added\n- First release.\n",
    "table": "| id | status |\n|----|--------|\n" + "| 7 | ok |\n" * 80,
}


@pytest.mark.parametrize(("name", "strategy", "size", "overlap"), [
    ("word", "recursive", 16, 0), ("word", "sentence", 50, 10), ("log", "recursive", 100, 99), ("log", "markdown", 100, 99),
    ("log", "token", 16, 0), ("changelog", "markdown", 100, 60), ("table", "recursive", 64, 0), ("table", "token", 20, 4),
])
def test_chunks_of_a_repeating_text_are_placed_where_they_were_cut(name: str, strategy: str, size: int, overlap: int) -> None:
    # a chunk is found in its document by its text: a copy of that text earlier on is not where it was cut, and
    # placing it there showed the chunk explorer text "not in any chunk" and overlaps that are not there
    from workbench.models import MINILM_ID, load_embedder

    text = REPEATING[name]
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=size, overlap=overlap),
                            load_embedder(MINILM_ID).tokenizer)
    assert all(c.start >= 0 and text[c.start : c.end] == c.text for c in chunks)
    assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:]))
    covered = set().union(*(range(c.start, c.end) for c in chunks))
    assert [i for i, ch in enumerate(text) if i not in covered and not ch.isspace()] == []


@pytest.mark.parametrize("strategy", ["recursive", "markdown"])
def test_the_end_of_a_long_run_repeated_within_the_overlap_is_placed_at_that_end(strategy: str) -> None:
    # the splitter cuts a run longer than the size (a rule of '=', a base64 line) character by character and repeats its
    # last characters as a chunk of their own; that chunk was placed at the next rule, and the text after it (here the
    # heading) was then placed before its predecessor: the explorer showed it out of place, a markdown chunk got the
    # wrong header
    text = "# Intro\n\n" + "=" * 30 + "\nSection two\n" + "=" * 30
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=20, overlap=18))
    assert all(c.start >= 0 and text[c.start : c.end] == c.text for c in chunks)
    assert all(a.start < b.start and a.end <= b.end for a, b in zip(chunks, chunks[1:]))
    assert [(c.start, c.end) for c in chunks if c.text == "=" * 18] == [(21, 39)]


# where sentences end in other scripts and punctuation: capitals with accents, caseless scripts, full stops with no
# space after them (Chinese, Japanese), the danda, closing quotes and brackets after the full stop
SENTENCES = {
    "accented capital": ("Le train part à huit heures. Élodie arrive en retard.", ["Le train part à huit heures.", "Élodie arrive en retard."]),
    "cyrillic": ("Поезд ушёл. Мы опоздали.", ["Поезд ушёл.", "Мы опоздали."]),
    "chinese": ("员工每年有二十五天假期。请提前申请！可以吗？好的", ["员工每年有二十五天假期。", "请提前申请！", "可以吗？", "好的"]),
    "japanese": ("休暇は二十五日です。「申請は早めに。」次へ", ["休暇は二十五日です。", "「申請は早めに。」", "次へ"]),
    # a quotation's own full stop does not end the sentence quoting it ("... と言った": "... he said")
    "japanese quotation": ("彼は「はい。」と言った。「了解。」って返事した。次へ", ["彼は「はい。」と言った。", "「了解。」って返事した。", "次へ"]),
    # Japanese technical writing ends sentences with a full-width full stop, which is also the decimal point of "３．５"
    "japanese full-width full stop": ("本研究では，手法を提案する．精度は３．５％向上した．次へ", ["本研究では，手法を提案する．", "精度は３．５％向上した．", "次へ"]),
    "hindi": ("यह एक दस्तावेज़ है। हमें यह जांचना है।", ["यह एक दस्तावेज़ है।", "हमें यह जांचना है।"]),
    "arabic": ("هل لديك سؤال؟ نعم لدي سؤال.", ["هل لديك سؤال؟", "نعم لدي سؤال."]),
    "closing quote": ('He said "stop." Then he left. (See below.) Next.', ['He said "stop."', "Then he left.", "(See below.)", "Next."]),
    "spanish": ("Es tarde. ¿Vienes? ¡Vamos!", ["Es tarde.", "¿Vienes?", "¡Vamos!"]),
    "ellipsis": ("Wait… Then go.", ["Wait…", "Then go."]),
    "abbreviation and decimal": ("Use e.g. the 3.5 release. Done", ["Use e.g. the 3.5 release.", "Done"]),
    "paragraph after lower case": ("see fig.\n\nnext part", ["see fig.", "next part"]),
    # a run of full stops is one sentence's end ("！？" was two sentences, the second the lone "？")
    "run of full stops": ("本当！？次です。。。そうか！！", ["本当！？", "次です。。。", "そうか！！"]),
    # Chinese and Japanese typed with half-width punctuation, or normalised to NFKC
    "half-width chinese": ("你好吗?我很好!谢谢。", ["你好吗?", "我很好!", "谢谢。"]),
    "half-width japanese": ("本研究では,手法を提案する.精度は3.5%向上した.次へ", ["本研究では,手法を提案する.", "精度は3.5%向上した.", "次へ"]),
    "half-width after a quote": ("他说“好”!然后走了。", ["他说“好”!", "然后走了。"]),
    "domain before japanese": ("Visit example.com今日", ["Visit example.com今日"]),
    # the full stops of Armenian, Ethiopic, Tibetan, Myanmar and Khmer, and Georgian, which opens sentences in lower case
    "armenian": ("Բարեւ։ Ինչպես ես։", ["Բարեւ։", "Ինչպես ես։"]),
    "ethiopic": ("ሰላም። እንዴት ነህ፧ ደህና", ["ሰላም።", "እንዴት ነህ፧", "ደህና"]),
    "tibetan": ("བཀྲ་ཤིས་བདེ་ལེགས། ཁྱེད་རང་།", ["བཀྲ་ཤིས་བདེ་ལེགས།", "ཁྱེད་རང་།"]),
    "myanmar": ("မင်္ဂလာပါ။နေကောင်းလား။", ["မင်္ဂလာပါ။", "နေကောင်းလား။"]),
    "khmer": ("សួស្តី។សុខសប្បាយទេ", ["សួស្តី។", "សុខសប្បាយទេ"]),
    "georgian": ("გამარჯობა. როგორ ხარ? კარგად.", ["გამარჯობა.", "როგორ ხარ?", "კარგად."]),
}


@pytest.mark.parametrize("name", sorted(SENTENCES))
def test_sentences_end_where_a_reader_of_the_script_sees_them_end(name: str) -> None:
    text, expected = SENTENCES[name]
    assert split_sentences(text) == expected


@pytest.mark.parametrize("strategy", ["recursive", "token"])
def test_chinese_text_is_cut_after_its_full_stops_not_inside_a_sentence(strategy: str) -> None:
    from workbench.models import MINILM_ID, load_embedder

    text = "员工每年有二十五天假期。请提前两周申请！可以带薪吗？可以。" * 12
    size = 60 if strategy == "token" else 40
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=size, overlap=0), load_embedder(MINILM_ID).tokenizer)
    assert len(chunks) > 3 and all(text[c.start : c.end] == c.text for c in chunks)
    assert [c.text for c in chunks if c.text[-1] not in "。！？"] == []


@pytest.mark.parametrize("strategy", ["recursive", "markdown", "sentence"])
def test_chinese_with_half_width_punctuation_is_cut_after_its_stops_and_commas(strategy: str) -> None:
    # Chinese typed with "?!.,;" (or a corpus normalised to NFKC, which makes "？！，；" of them) has no full-width stop
    # and no space: every chunker cut it every N characters, inside words ('需要提前两' | '周申请')
    text = "员工每年有二十五天假期,需要提前两周申请,经理批准后生效;如有疑问请联系人事部门!可以带薪吗?可以." * 6
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=40, overlap=0))
    assert len(chunks) > 6 and all(text[c.start : c.end] == c.text and len(c.text) <= 40 for c in chunks)
    assert [c.text for c in chunks if c.text[-1] not in ",;!?."] == []


@pytest.mark.parametrize("strategy", ["recursive", "sentence"])
def test_myanmar_and_khmer_text_is_cut_after_its_full_stops(strategy: str) -> None:
    # neither script spaces its words: with no separator the splitter knew, their text was cut every N characters
    text = ("မင်္ဂလာပါ။နေကောင်းလား။" + "សួស្តី។សុខសប្បាយទេ។") * 8
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=30, overlap=0))
    assert len(chunks) > 4 and all(text[c.start : c.end] == c.text for c in chunks)
    assert [c.text for c in chunks if c.text[-1] not in "။។"] == []


# a sentence longer than the chunk size: English with no punctuation, Hindi with commas only,
# one word of accented letters, one word of family emoji (each four people joined by zero-width joiners)
LONG_SENTENCES = {
    "english": "the employee shall notify the manager in writing before taking any leave and the manager shall confirm " * 4,
    "hindi": "यह एक परीक्षण दस्तावेज़ है, हमें यह जांचना है कि कोई पाठ खो न जाए, " * 6,
    "accents": "ve\u0301rite" * 40,
    "emoji": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466" * 40,
}


@pytest.mark.parametrize("name", sorted(LONG_SENTENCES))
@pytest.mark.parametrize("overlap", [0, 12])
def test_the_sentence_chunker_cuts_a_long_sentence_between_words_never_inside_a_character(name: str, overlap: int) -> None:
    text = LONG_SENTENCES[name]
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy="sentence", size=60, overlap=overlap))
    assert all(c.start >= 0 and text[c.start : c.end] == c.text and len(c.text) <= 60 for c in chunks)
    covered = set().union(*(range(c.start, c.end) for c in chunks))
    assert [i for i, ch in enumerate(text) if i not in covered and not ch.isspace()] == []
    cuts = sorted({c.start for c in chunks} | {c.end for c in chunks} - {0, len(text)})
    assert [cut for cut in cuts if unicodedata.category(text[cut])[0] == "M" or "\u200d" in text[cut - 1 : cut + 1]] == []
    if " " in text:  # a text of words is cut between them
        assert [cut for cut in cuts if not text[cut - 1].isspace() and not text[cut].isspace()] == []


@pytest.mark.parametrize("text", [
    "พนักงานที่ทำงานครบหนึ่งปีมีสิทธิ์ลาพักร้อนได้ยี่สิบห้าวันต่อปีโดยต้องยื่นคำขอล่วงหน้าสองสัปดาห์ " * 6,  # Thai: vowel and tone marks
    "कर्मचारीकोप्रतिवर्षपच्चीसदिनकीछुट्टीमिलतीहै" * 6,  # Devanagari vowel signs and viramas
    unicodedata.normalize("NFD", "한국어텍스트입니다" * 20),  # Hangul syllables decomposed, as macOS writes them
    "ve\u0301rite" * 40, "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f44d\U0001f3fd" * 20,
], ids=["thai", "devanagari", "hangul-nfd", "accents", "emoji"])
@pytest.mark.parametrize("strategy", ["recursive", "markdown"])
def test_the_recursive_splitters_cut_a_long_run_between_characters_as_a_reader_sees_them(strategy: str, text: str) -> None:
    # past its last separator the splitter cut between code points: a Thai or Hindi syllable lost its vowel sign to the
    # next chunk, a decomposed Hangul syllable its vowel, a joined emoji fell apart (the sentence chunker already did this)
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=37, overlap=5))
    assert len(chunks) > 3 and all(text[c.start : c.end] == c.text and len(c.text) <= 37 for c in chunks)
    cuts = sorted({c.start for c in chunks} | {c.end for c in chunks} - {0, len(text)})
    inside = [cut for cut in cuts if unicodedata.category(text[cut])[0] == "M" or "\u200d" in text[cut - 1 : cut + 1]
              or "\u1160" <= text[cut] <= "\u11ff" or "\U0001f3fb" <= text[cut] <= "\U0001f3ff"]
    assert inside == []


FENCED_MARKDOWN = (
    "# Setup\n\nInstall the tools first.\n\n~~~bash\n# install the dependencies\npip install -r requirements.txt\n"
    "# run the tests\npytest -q\n~~~\n\n## Usage\n\nWrite a fence in a fence:\n\n````markdown\n```python\n# a comment\n```\n"
    "# still in the outer fence\n````\n\nDone.\n\n## Steps\n\n1. Build:\n  ```bash\n# clean first\nmake\n    ```\n\n## Last\n"
)


def test_comments_in_tilde_and_nested_code_fences_are_code_not_headers() -> None:
    chunks = chunk_document(Document("d", FENCED_MARKDOWN), ChunkerSpec(strategy="markdown", size=2000, overlap=0))
    assert [(c.header, c.text.splitlines()[0], c.text.splitlines()[-1]) for c in chunks] == [
        ("Setup", "# Setup", "~~~"), ("Usage", "## Usage", "Done."), ("Steps", "## Steps", "    ```"), ("Last", "## Last", "## Last")]


@pytest.mark.parametrize("strategy", ["recursive", "token", "markdown", "sentence"])
def test_a_chinese_or_japanese_sentence_longer_than_a_chunk_is_cut_after_its_clauses(strategy: str) -> None:
    # a sentence of commas only, longer than the size, was cut every N characters, inside words ('繰り越せま' | 'せます')
    from workbench.models import MINILM_ID, load_embedder

    text = ("员工每年有二十五天带薪假，未使用的假期在三月三十一日失效，除非经理批准；"
            "出張の際は、事前に申請書を提出し、上司の承認を得て、経費精算は帰社後二週間以内に行います。") * 3
    size = 40 if strategy == "token" else 30
    chunks = chunk_document(Document("d", text), ChunkerSpec(strategy=strategy, size=size, overlap=0), load_embedder(MINILM_ID).tokenizer)
    assert len(chunks) > 3 and all(text[c.start : c.end] == c.text for c in chunks)
    assert [c.text for c in chunks if c.text[-1] not in "。；，、"] == []


class _CountingTokenizer:
    """The fake embedder's tokenizer, recording every text it is asked to encode."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder().tokenizer
        self.texts: list[str] = []

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        self.texts.append(text)
        return self.inner.encode(text, add_special_tokens=add_special_tokens)


@pytest.mark.parametrize("joiner", ["\n\n", " "])
def test_the_token_chunker_tokenises_each_piece_of_a_document_once(joiner: str) -> None:
    # the splitter measured every piece two or three times, and a long line's words and a page's repeated lines again
    # and again: a 1 MB single-line export took 14 s to cut in tokens with MiniLM, a 100 MB corpus some 20 minutes
    lines = ["The cache keeps answers for a week.", "A retry waits a second before it asks again.", "Tokens are counted per call.",
             "Billing runs nightly.", "Restore from the latest backup."]
    text = joiner.join(lines[i % 5] for i in range(1000))
    counting = _CountingTokenizer()
    spec = ChunkerSpec(strategy="token", size=64, overlap=8)
    chunks = chunk_document(Document("d", text), spec, counting)
    assert chunks == chunk_document(Document("d", text), spec, HashingEmbedder().tokenizer)  # the same chunks
    measured = Counter(counting.texts)
    assert max(measured.values()) <= 2  # once by the splitter, at most once more where a chunk is placed
    assert len(counting.texts) < len(chunks) * 5


def test_sentence_chunks_of_a_log_that_repeats_its_lines_lie_where_they_were_cut() -> None:
    # a log's lines hold no full stop: the sentence chunker cuts them between words, and its chunks, searched for in the
    # text, were found at other copies of the same words (the third chunk at 118, the sixth back at 98), so the chunk
    # explorer drew lines 2 to 4 as in no chunk
    warn, info = "WARN retrying db", "INFO request served in 9 ms"
    text = "\n".join([warn] * 5 + [info] + [warn] * 3 + [info, warn])
    chunks = chunk_document(Document("app.log", text), ChunkerSpec(strategy="sentence", size=40, overlap=20))
    assert all(text[c.start : c.end] == c.text for c in chunks)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert [i for i, char in enumerate(text) if not char.isspace() and i not in covered] == []


@pytest.mark.parametrize(("strategy", "size", "overlap", "text"), [
    ("recursive", 60, 15, "WARN retrying db\nok\n\nWARN retrying db\nok\nINFO request served in 12 ms\n---\nok\nok\n\nok\n\nok"),
    ("token", 20, 10, "WARN retrying db\nok\nWARN retrying db\nWARN retrying db\n\nINFO request served in 12 ms\nWARN retrying db\n\n"
                      "WARN retrying db\n\nWARN retrying db"),
])
def test_splitter_chunks_of_a_text_that_repeats_are_placed_so_that_they_cover_it(strategy: str, size: int, overlap: int, text: str) -> None:
    # a splitter's chunks are searched for in the text; in one that repeats (a log, a checklist of "ok" lines) the
    # search took another copy of the last chunk, within the one before it, so the last "ok" lay in no chunk
    from workbench.models import load_embedder

    tokenizer = load_embedder("local:all-minilm-l6-v2").tokenizer
    chunks = chunk_document(Document("run.log", text), ChunkerSpec(strategy=strategy, size=size, overlap=overlap), tokenizer)
    assert len(chunks) > 2 and all(text[c.start : c.end] == c.text for c in chunks)
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert [i for i, char in enumerate(text) if not char.isspace() and i not in covered] == []
