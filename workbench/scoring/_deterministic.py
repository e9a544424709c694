"""Deterministic scorers: retrieval against labelled sources, answer overlap with the reference, refusals."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from workbench.datasets import labels_covering
from workbench.metrics import cosine, is_empty_answer, is_refusal, reading_form
from workbench.scoring._base import Score, ScoreContext, ScoreFn, ScorerEnv

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Hiragana, Katakana, Han (CJK ideographs).
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                       "\uf900-\ufaff\U00020000-\U0003ffff]")


# A number with its sign and separators: "-5", "1,000.5", "3.11", "2.4.1", ".5" (not the "-" of a range such as "10-20")
_NUMBER = re.compile(r"(?:(?<!\w)[-\u2212])?(?:\d+(?:[.,]\d+)*|(?<![\w.])\.\d+)")


def _strip_punctuation(text: str) -> str:
    """Drop ASCII punctuation and symbols (``string.punctuation``) and their Unicode kin: punctuation and symbols of any
    script (categories P* and S*), so "€40" reads as "40" like "$40" does, and "≥ 18" as "18" like ">= 18"."""
    text = text.translate(_PUNCT)
    return text if text.isascii() else "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PS")


# A whole number grouped by thousands separators: 1,000,000, and India's 10,00,000 (lakhs and crores)
_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+|-?\d{1,2}(?:,\d{2})+,\d{3}")


def _number(text: str) -> str:
    """A number as the overlap scorers compare it: thousands separators go ("1,000" is 1000), a comma that groups no
    thousands separates ("3,5" is 3 and 5, not 35), decimal points stay ("3.5" is not 35, "3.11" is not 311; ".5" is
    0.5, not 5), and so does a minus sign ("-5" is not 5; "−5" is "-5")."""
    whole, point, fraction = text.replace("\u2212", "-").partition(".")
    if whole in ("", "-"):  # ".5" is 0.5 (not 5), "-.5" is -0.5
        whole += "0"
    if _GROUPED.fullmatch(whole):
        whole = whole.replace(",", "")
    return (whole + point + fraction).replace(",", " ")


def _strip_punctuation_keeping_numbers(text: str) -> str:
    """``_strip_punctuation`` outside numbers; numbers as ``_number`` writes them. Punctuation alone between two
    numbers separates them: "10-20", "3/4", "2024-01-15" and "3:30" are two or three numbers, not 1020, 34, 20240115
    and 330."""
    pieces, end = [], 0
    for number in _NUMBER.finditer(text):
        between = text[end:number.start()]
        gap = _strip_punctuation(between)
        pieces += [" " if pieces and between and not gap else gap, _number(number.group())]
        end = number.end()
    return "".join([*pieces, _strip_punctuation(text[end:])])


# Arabic's decimal separator "٫" and thousands separator "٬", written between Arabic-Indic digits: "٣٫٥" is 3.5
_ARABIC_SEPARATORS = {"\u066b": ".", "\u066c": ","}


def _ascii_digit(ch: str) -> str:
    digit = unicodedata.decimal(ch, None)
    return _ARABIC_SEPARATORS.get(ch, ch) if digit is None else str(digit)


# A whole number grouped by a no-break, narrow no-break or thin space: the thousands separator of French, Russian,
# Polish, Swedish... ("1 000 000"), which their spreadsheets write (an ordinary space may part two numbers). Its groups
# are joined, not read as comma-grouped: these languages write a decimal comma after them ("1 234,56 €" is "1234,56 €").
# The same grouped by an apostrophe, as Switzerland and Liechtenstein write thousands ("CHF 1'500", "1’000’000"), in
# any of the apostrophes a keyboard or a word processor types.
_SEPARATOR_GROUPED = re.compile("(?<!\\d)\\d{1,3}(?:[\u00a0\u202f\u2009]\\d{3})+(?!\\d)"
                            "|(?<!\\d)(?<!\\d['\u2019\u02bc])\\d{1,3}(?:['\u2019\u02bc]\\d{3})+(?!\\d)(?!['\u2019\u02bc]\\d)")
_GROUP_SEPARATORS = str.maketrans(dict.fromkeys("\u00a0\u202f\u2009'\u2019\u02bc"))
# Marks that separate words (or syllables) where other scripts put a space: the Tibetan tsheg (and its non-breaking
# form) and the Ethiopic word space. Dropped as punctuation, they glued a whole Tibetan phrase or Ge'ez line into one word.
_WORD_SEPARATORS = str.maketrans(dict.fromkeys("\u0f0b\u0f0c\u1361", " "))


def _folded(text: str) -> str:
    """One form for text that reads the same:

    - NFKC (full-width "１０" is "10", a decomposed "é" is "é") and Unicode case folding ("STRASSE" matches "straße");
      Turkish capital "İ" folds to "i" as its lower case is written (case folding alone gives "i" and a combining dot),
      and dotless "ı" to "i" too: its capital "I" folds to "i", so a word capitalised at the start of a sentence ("Irmak",
      "Işık") matched nothing written in lower case ("ırmak", "ışık");
    - ASCII digits for the decimal digits of every script (Arabic-Indic "١٢٣", Devanagari "१२३" and Bengali "১২৩" are
      123); Arabic "٣٫٥" is 3.5 and "١٬٠٠٠" 1,000, and so is "1 000" grouped by a no-break or thin space, and Swiss
      "1'000" grouped by an apostrophe (``_SEPARATOR_GROUPED``);
    - no invisible format characters (category Cf: the right-to-left and left-to-right marks of Arabic and Hebrew
      text, zero-width spaces and joiners, a byte-order mark, soft hyphens), which a reference pasted from a document
      carries and an answer does not;
    - Arabic and Hebrew words with or without their optional vowel marks, and Arabic and Persian in any of the
      spellings their writers use (``workbench.metrics.reading_form``): "مُحَمَّد" is "محمد", "שָׁלוֹם" is "שלום" (the
      marks other scripts need, Devanagari vowel signs, stay), "انا" is "أنا", Egyptian "فى" is "في", "کتاب" is "كتاب";
    - a space for the marks that part words where other scripts write a space (``_WORD_SEPARATORS``: the Tibetan tsheg
      "་", the Ethiopic word space "፡").
    """
    text = _SEPARATOR_GROUPED.sub(lambda m: m.group().translate(_GROUP_SEPARATORS), text)
    text = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i").replace("\u0131", "i")
    if text.isascii():
        return text
    text = reading_form(text).translate(_WORD_SEPARATORS)
    return "".join(_ascii_digit(ch) for ch in text if unicodedata.category(ch) != "Cf")


def normalize(text: str) -> str:
    """SQuAD-style normalisation: Unicode-folded case and width, no punctuation or symbols (in any script; numbers
    keep their decimal points and minus signs), no articles, single spaces. A text of articles only keeps them: the
    reference "A" (a multiple-choice option) is "a", not empty, so an empty answer does not match it."""
    text = _strip_punctuation_keeping_numbers(_folded(text))
    return " ".join(_ARTICLES.sub(" ", text).split()) or " ".join(text.split())


def _split_word(word: str) -> list[str]:
    pieces: list[str] = []
    joins = False  # whether the next character of a spaced script continues the last piece
    for ch in word:
        if pieces and unicodedata.category(ch).startswith("M"):
            pieces[-1] += ch  # a combining mark (vowel sign, tone mark) stays with its character
        elif _UNSPACED.match(ch):
            pieces.append(ch)
            joins = False
        elif joins:
            pieces[-1] += ch
        else:
            pieces.append(ch)
            joins = True
    return pieces


def words(text: str) -> list[str]:
    """The whitespace-separated words of a text, with each character of a script written without spaces (Chinese,
    Japanese, Thai, ...) a word of its own, so overlap counts per character there. The one tokenizer of the overlap
    scorers (token_f1, exact_match, rouge_l)."""
    return [piece for word in text.split() for piece in ([word] if word.isascii() else _split_word(word))]


def _dedupe(ids: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(ids))


def _not_applicable(why: str) -> Score:
    return Score(None, why)


def hit_at_k(env: ScorerEnv) -> ScoreFn:
    """1 when any retrieved chunk comes from a labelled source: a labelled document, or a labelled page of one."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        hit = any(labels_covering(ctx.retrieved_ids, ctx.relevant_ids))
        return Score(1.0 if hit else 0.0, f"retrieved {_dedupe(ctx.retrieved_ids)}; relevant {sorted(ctx.relevant_ids)}")

    return score


def recall_at_k(env: ScorerEnv) -> ScoreFn:
    """Share of the labelled sources found among the retrieved chunks. Each label counts once, whatever it names: a
    document is found by any chunk of it, pages of one (``handbook#page=3-4``) by a chunk lying on one of them; a
    question labelled with a document and a page of it (``handbook``, ``handbook#page=12``) finds the page only with
    a chunk on page 12, and the document with any chunk."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        found = sorted({label for covered in labels_covering(ctx.retrieved_ids, ctx.relevant_ids) for label in covered})
        return Score(len(found) / len(ctx.relevant_ids), f"found {found} of {sorted(ctx.relevant_ids)}")

    return score


def mrr(env: ScorerEnv) -> ScoreFn:
    """Reciprocal rank of the first retrieved chunk from a labelled source (0 when none)."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        for rank, covered in enumerate(labels_covering(ctx.retrieved_ids, ctx.relevant_ids), start=1):
            if covered:
                return Score(1.0 / rank, f"first relevant chunk at rank {rank}")
        return Score(0.0, "no relevant chunk retrieved")

    return score


def precision_at_k(env: ScorerEnv) -> ScoreFn:
    """Share of the retrieved chunks that come from a labelled source (a chunk relevant to several labels counts once)."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.relevant_ids:
            return _not_applicable("no labelled sources")
        if not ctx.retrieved_ids:
            return Score(0.0, "nothing retrieved")
        good = sum(1 for covered in labels_covering(ctx.retrieved_ids, ctx.relevant_ids) if covered)
        return Score(good / len(ctx.retrieved_ids), f"{good} of {len(ctx.retrieved_ids)} chunks relevant")

    return score


def token_f1_value(answer: str, reference: str) -> float:
    """Token-overlap F1 of the normalised answer and reference (see ``normalize`` and ``words``): the harmonic mean of
    precision and recall, computed as the one fraction it is, 2 * common / (answer words + reference words), so an F1
    of exactly 0.5 is 0.5 (through precision and recall 6 common words of 11 and 13 gave 0.4999999999999999, which
    missed the success threshold ``token_f1 >= 0.5``)."""
    pred, gold = words(normalize(answer)), words(normalize(reference))
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    return 2 * common / (len(pred) + len(gold))


def _answerable_only(fn):  # type: ignore[no-untyped-def]
    def score(ctx: ScoreContext) -> Score:
        if ctx.expects_refusal:
            return _not_applicable("refusal item: see refusal_correct")
        if not ctx.has_reference:
            return _not_applicable("no reference answer")
        return fn(ctx)

    return score


def token_f1(env: ScorerEnv) -> ScoreFn:
    """Token-overlap F1 between answer and reference (SQuAD normalisation); answerable items only."""
    return _answerable_only(lambda ctx: Score(token_f1_value(ctx.answer, ctx.reference)))


def exact_match(env: ScorerEnv) -> ScoreFn:
    """1 when the normalised answer has the same words as the normalised reference; answerable items only."""
    return _answerable_only(lambda ctx: Score(float(words(normalize(ctx.answer)) == words(normalize(ctx.reference)))))


def _letters_and_digits(text: str) -> str:
    """``text`` with everything but letters, digits and combining marks (categories L*, N*, M*) turned into spaces."""
    if text.isascii():
        return re.sub(r"[^A-Za-z0-9]+", " ", text)
    return "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text)


@dataclass(frozen=True)
class _RougeTokenizer:
    """rouge_score's default tokenizer for every script: folded case and width (``_folded``), letters and digits
    only, ASCII words of more than 3 characters stemmed. rouge_score's own keeps only ``[a-z0-9]``, so an answer in
    Chinese, Arabic or Russian had no tokens at all (ROUGE-L 0 even against itself)."""

    stem: Callable[[str], str]

    def tokenize(self, text: str) -> list[str]:
        return [self.stem(w) if len(w) > 3 and w.isascii() else w for w in words(_letters_and_digits(_folded(text)))]


@lru_cache(maxsize=1)
def _rouge_tokenizer() -> _RougeTokenizer:
    from nltk.stem import porter

    return _RougeTokenizer(porter.PorterStemmer().stem)


@lru_cache(maxsize=1)
def _rouge_l_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_rouge_tokenizer())


def rouge_l_value(answer: str, reference: str) -> float:
    """ROUGE-L F-measure of ``answer`` against ``reference`` (rouge_score's, with ``_RougeTokenizer``), as the one fraction
    it is, 2 * LCS / (answer tokens + reference tokens): rouge_score's 2PR / (P + R) in floating point gave
    0.4999999999999999 for an LCS of 6 between 11 and 13 tokens, below a threshold of 0.5 that it reaches."""
    scored = _rouge_l_scorer().score(reference, answer)["rougeL"]
    answer_tokens, reference_tokens = (len(_rouge_tokenizer().tokenize(text)) for text in (answer, reference))
    if not answer_tokens or not reference_tokens:
        return 0.0
    lcs = round(scored.precision * answer_tokens)  # precision is LCS / answer tokens
    return 2 * lcs / (answer_tokens + reference_tokens)


def rouge_l(env: ScorerEnv) -> ScoreFn:
    """ROUGE-L F-measure of answer against reference (``rouge_l_value``); answerable items only. rouge_score (and nltk)
    load at the first answer scored: a sweep builds its scorers in the caller too, which scores no answer."""
    return _answerable_only(lambda ctx: Score(rouge_l_value(ctx.answer, ctx.reference)))


# the share of a text's tokens unknown to the embedding model from which its vector says nothing of what it says
_UNKNOWN_SHARE_UNREADABLE = 0.5


def semantic_similarity(env: ScorerEnv) -> ScoreFn:
    """Cosine similarity of answer and reference embeddings (the local embedding model); answerable items only, and
    not applicable where the embedding model does not know half the tokens of either text (all-MiniLM-L6-v2 reads
    nearly every Thai word, and many Chinese and Japanese ones, as its one unknown token: two unrelated Thai sentences
    have similarity 1)."""
    from workbench.models import MINILM_ID, embedder_unknown_share

    embedder = env.embedder
    if embedder is None:
        from workbench.models import load_embedder

        embedder = load_embedder(MINILM_ID)

    def score(ctx: ScoreContext) -> Score:
        if is_empty_answer(ctx.answer):  # "..." too: an embedding model gives punctuation a direction of its own
            return Score(0.0, "empty answer")
        for role, text in (("reference", ctx.reference), ("answer", ctx.answer)):
            share = embedder_unknown_share(embedder.model_id, [text])
            if share is not None and share >= _UNKNOWN_SHARE_UNREADABLE:
                return _not_applicable(f"{share:.0%} of the {role}'s tokens are unknown to the embedding model {embedder.model_id}: "
                                       "its vector does not say what the text says")
        # each text alone: a batch pads its texts to the longest, which moves a vector in its last bits, and the
        # reference's vector, cached and shared by every variant, was that of whichever answer embedded it first
        a, b = (embedder.embed([text])[0] for text in (ctx.answer, ctx.reference))
        return Score(max(0.0, min(1.0, cosine(a, b))))

    return _answerable_only(score)


# the explanation of a refusal score for an answer of nothing (``is_empty_answer``): ``is_refusal`` counts it (a router
# escalates it), the refusal scorers do not: a model that says nothing has not declined, and a broken one that answered
# nothing scored refusal_correct 1 on every question to be declined
EMPTY_ANSWER_NO_REFUSAL = "answered nothing (an empty answer is no refusal: see empty_answer)"


def empty_answer(env: ScorerEnv) -> ScoreFn:
    """1 when the answer has no letter or digit ("", spaces, "..."), on every item; lower is better."""

    def score(ctx: ScoreContext) -> Score:
        return Score(1.0, "answered nothing") if is_empty_answer(ctx.answer) else Score(0.0)

    return score


def refusal_correct(env: ScorerEnv) -> ScoreFn:
    """1 when the model declines an unanswerable or policy item (an empty answer declines nothing: 0); not applicable
    to answerable items."""

    def score(ctx: ScoreContext) -> Score:
        if not ctx.expects_refusal:
            return _not_applicable("answerable item")
        if is_empty_answer(ctx.answer):
            return Score(0.0, EMPTY_ANSWER_NO_REFUSAL)
        refused = is_refusal(ctx.answer)
        return Score(1.0 if refused else 0.0, "declined" if refused else f"answered a {ctx.category} item")

    return score


def false_refusal(env: ScorerEnv) -> ScoreFn:
    """1 when the model declines an answerable item; lower is better. Not applicable to an empty answer (no refusal,
    and no answer either: ``empty_answer`` counts it)."""

    def score(ctx: ScoreContext) -> Score:
        if ctx.expects_refusal:
            return _not_applicable("refusal item")
        if is_empty_answer(ctx.answer):
            return _not_applicable(EMPTY_ANSWER_NO_REFUSAL)
        refused = is_refusal(ctx.answer)
        return Score(1.0 if refused else 0.0, "declined an answerable item" if refused else "answered")

    return score
