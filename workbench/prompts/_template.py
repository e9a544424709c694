"""Prompt templates: one template renders to text for completion models and to messages for chat models."""

from __future__ import annotations

import difflib
import hashlib
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

REQUIRED_VARIABLES = frozenset({"question"})
KNOWN_VARIABLES = frozenset({"question", "context"})


def template_variables(text: str) -> frozenset[str]:
    """The ``{name}`` placeholders of a template (``{{`` and ``}}`` are literal braces).

    Raises:
        ValueError: on a malformed placeholder.
    """
    return frozenset(_names(text))


def _names(text: str) -> tuple[str, ...]:
    """The names of a template's placeholders, each once, in the order they are written."""
    return tuple(dict.fromkeys(field for _, field, _, _ in string.Formatter().parse(text) if field is not None))


def check_template(text: str) -> None:
    """Raise ``ValueError`` with a one-line reason when a template cannot be rendered by the pipeline."""
    if not text.strip():  # 'missing variable {question}' of a file saved empty: was the right file read?
        raise ValueError("the template is empty — write the prompt, with {question} where the question goes (and usually {context} "
                         "where the retrieved chunks go)")
    # its placeholders first: {Question} or {query} is what was written instead of the missing {question}
    found = _check_placeholders(text)
    missing = REQUIRED_VARIABLES - set(found)
    if missing:
        raise ValueError(f"missing variable {{{sorted(missing)[0]}}} — a template must use {{question}} (and usually {{context}})")


def _check_placeholders(text: str) -> tuple[str, ...]:
    """Raise ``ValueError`` on a placeholder of ``text`` the pipeline cannot fill in; else its placeholders' names."""
    _check_no_nul(text)
    found = _placeholders(text)
    _check_written(text)
    _check_known(found)
    _check_renders(text)
    return found


# a placeholder in a system message, which is sent as written: {context}, { context }, {{context}} (Jinja's), {Context}
# what may follow the name in a placeholder as it is written in Jinja ({{ context | trim }}) or Python ({context!s},
# {question:>20}), but not a JSON-like example of the answer's shape ({context: <the chunk used>, answer: ...})
_AFTER_NAME = r"\s*(?:\|[^{}]*|![rsa](?::[^{}\s]*)?|:[^{}\s]*)?"
_SYSTEM_PLACEHOLDER = re.compile(r"\{+\s*(question|context)" + _AFTER_NAME + r"\}+", re.IGNORECASE)


def check_system(text: str) -> None:
    """Raise ``ValueError`` with a one-line reason when a system message holds a placeholder: it is sent as written
    (only the template is filled in), so the model would read the text '{context}' instead of the retrieved chunks."""
    _check_no_nul(text, "system: ")
    found = _SYSTEM_PLACEHOLDER.search(text)
    if found is not None:
        raise ValueError(f"system: {found.group()} is not filled in in the system message, only in the template — move it into 'template'")


def problem_line(text: str) -> int | None:
    """The line (from 1) of the placeholder that ``check_template`` names, or of the first it refuses when no line holds
    that one alone; None when no single line holds the problem (a missing ``{question}``, a placeholder across lines).
    The first refused line was not always the one named: ``{{context}}`` on line 2 was named at an unknown ``{sources}``
    on line 1, as the checks run one kind of problem over the whole text at a time."""
    named = _refusal(check_template, text)
    first = None
    for number, line in enumerate(text.split("\n"), 1):  # as an editor counts: not at a form feed or U+2028
        refused = _refusal(_check_placeholders, line)
        if refused is not None and refused == named:
            return number
        if refused is not None and first is None:
            first = number
    return first


def _refusal(check: Callable[[str], object], text: str) -> str | None:
    """Why ``check`` refuses ``text``, None when it does not."""
    try:
        check(text)
    except ValueError as exc:
        return str(exc)
    return None


def _check_no_nul(text: str, where: str = "") -> None:
    # as a dataset's question or a corpus file holding one is refused; a prompt file saved as UTF-16 without its
    # byte-order mark holds one every other byte, and its errors quoted '{\x00c\x00o\x00n...' as a placeholder
    if "\0" in text:
        raise ValueError(f"{where}holds a NUL character (\\u0000), which a database cannot store (a UTF-16 or binary file read as text holds "
                         "many) — remove it, or save the file as UTF-8 text")


# a Jinja statement or comment ({% for doc in context %}, {# note #}) pasted from a promptfoo or LangChain jinja2 prompt,
# not after a literal brace ({{% raw %}} is the text '{% raw %}'); a tag is short: a search to each line's end from
# every '{%' took 27 s on a line of 80,000 characters (a minified page pasted into a prompt file)
_JINJA_TAG = re.compile(r"(?<!\{)\{(%|#)[^\n]{0,200}?\1\}")


def _placeholders(text: str) -> tuple[str, ...]:
    tag = _JINJA_TAG.search(text)
    if tag is not None:  # it was a malformed placeholder, or told to double its braces: the model read the Jinja as written
        raise ValueError(f"{tag.group()} is Jinja, which a template does not run (it is Python format text) — write {{context}} where "
                         "the retrieved chunks go and {question} where the question goes")
    try:
        return _names(text)
    except ValueError as exc:
        raise ValueError(f"malformed placeholder ({exc}) — write literal braces as {{{{ and }}}}") from None


# {question} or {context} typed with a Chinese or Japanese input method's full-width braces: text, not a placeholder
_FULL_WIDTH_PLACEHOLDER = re.compile(r"[{\uff5b]\s*(question|context)\s*[}\uff5d]")


# {question} or {context} left in the text the model reads: written {{question}} (Jinja, Nunjucks, promptfoo, MLflow's
# prompt registry), whose doubled braces are one literal brace each here; a filter or spec after the name ({{ context | trim }})
_LITERAL_PLACEHOLDER = re.compile(r"\{\s*(question|context)" + _AFTER_NAME + r"\}")


def _literal_text(text: str) -> str:
    """The text of a template the model reads as written (its doubled braces as one brace), a NUL where a placeholder is."""
    return "".join(literal + ("\0" if field is not None else "") for literal, field, _, _ in string.Formatter().parse(text))


def _check_written(text: str) -> None:
    literal = _LITERAL_PLACEHOLDER.search(_literal_text(text))
    if literal is not None:
        raise ValueError(f"{{{literal.group()}}} is the text '{literal.group()}', not the {literal.group(1)}: doubled braces (Jinja's, "
                         f"promptfoo's) write one literal brace here, so the model would read it as written — write {{{literal.group(1)}}}")
    for match in _FULL_WIDTH_PLACEHOLDER.finditer(text):
        if "\uff5b" in match.group() or "\uff5d" in match.group():
            raise ValueError(f"{match.group()} is written with full-width braces, so it is text, not a placeholder (the model would "
                             f"read it as written) — write {{{match.group(1)}}}")
    for _, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        _check_visible(field)
        if field.isidentifier() or field.strip() in KNOWN_VARIABLES:
            continue
        if re.split(r"[.\[]", field, maxsplit=1)[0] in KNOWN_VARIABLES:
            raise ValueError(f"placeholder {_shown('{' + field + '}')} reads an attribute or item — write {{question}} or {{context}} alone "
                             "(or literal braces as {{ and }})")
        # not a variable at all: literal braces written single, e.g. a JSON example {"answer": "..."}
        written = _shown("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
        doubled = written.replace("{", "{{").replace("}", "}}")
        if field == "" or field.isdigit():  # "{0}".format(question): a Python habit, or an empty JSON object {}
            raise ValueError(f"{written} is a positional placeholder, which a template does not fill — write {{question}} or {{context}} "
                             f"where a value goes, or {doubled} for the text '{written}'")
        raise ValueError(f"{written} is not a placeholder — write its braces doubled: {doubled}")
    spaced = sorted(f for f in template_variables(text) if f != f.strip() and f.strip() in KNOWN_VARIABLES)
    if spaced:
        raise ValueError(f"placeholder {{{spaced[0]}}} has spaces inside its braces — write {{{spaced[0].strip()}}}")


def _shown(written: str) -> str:
    """What was written, on one line and at most 60 characters, for an error: a JSON example pretty-printed over ten
    lines of a template was quoted whole, twice, making the error twenty lines long."""
    line = " ".join(written.split())
    return line if len(line) <= 60 else line[:58] + "…" + line[-1]


def _check_visible(field: str) -> None:
    """Refuse {question} or {context} holding an invisible character (a zero-width space, a soft hyphen, a byte-order
    mark: pasted from a web page or chat with the template), which was told to double its braces as if it were text."""
    hidden = [ch for ch in field if unicodedata.category(ch) == "Cf"]
    visible = "".join(ch for ch in field if ch not in hidden).strip()
    if hidden and visible in KNOWN_VARIABLES:
        raise ValueError(f"placeholder {{{visible}}} holds an invisible character (U+{ord(hidden[0]):04X}, pasted with the template) — "
                         f"type it again as {{{visible}}}")


# what other tools name the question and the retrieved chunks: LlamaIndex's text_qa_template ({context_str},
# {query_str}), LangChain's create_retrieval_chain ({input}), ragas's samples ({contexts}, {user_input})
_OTHER_NAMES = {"query": "question", "query_str": "question", "input": "question", "user_input": "question",
                "context_str": "context", "contexts": "context", "documents": "context", "docs": "context"}


def _check_known(found: Sequence[str]) -> None:
    """Refuse the first placeholder (in the text's order) that is neither ``{question}`` nor ``{context}``."""
    unknown = [f for f in found if f not in KNOWN_VARIABLES]
    cased = [f for f in unknown if f.lower() in KNOWN_VARIABLES]
    if cased:
        raise ValueError(f"placeholder {{{cased[0]}}} is not {{{cased[0].lower()}}}: placeholder names are lower-case — write {{{cased[0].lower()}}}")
    if unknown:
        likely = _likely_meant(unknown[0])
        only = "templates may use only {question} and {context}"
        if likely:
            raise ValueError(f"unknown variable {{{unknown[0]}}} — write {{{likely}}} ({only})")
        # not a variable of its own ({audience}, {language}): text for the model to read, an example of a letter's
        # {customer_name} or of code, was said to be unusable, though its braces doubled write it
        raise ValueError(f"unknown variable {{{unknown[0]}}} — {only}; for the text '{{{unknown[0]}}}' write {{{{{unknown[0]}}}}}")


def _likely_meant(name: str) -> str | None:
    """The placeholder an unknown one most likely stands for: another tool's name for it, or a typo of it."""
    close = difflib.get_close_matches(name.lower(), sorted(KNOWN_VARIABLES), n=1, cutoff=0.75)
    return _OTHER_NAMES.get(name.lower()) or (close[0] if close else None)


# the width of a format spec ([[fill]align][sign][z][#][0][width][grouping][.precision][type]), which pads the text, and
# its precision, which cuts it
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?", re.DOTALL)


def _check_renders(text: str) -> None:
    """Refuse a conversion or format spec that fails on text (``{question!x}``, ``{question:d}``), or one that holds a
    placeholder (``{question:>{context}}``: the retrieved text would be read as a format spec), which passed the checks
    above and failed every question of the sweep."""
    for _, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        how = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        written = _shown("{" + field + how + "}")
        if "{" in how:
            raise ValueError(f"placeholder {written} has a placeholder in its format spec — write {{{field}}}")
        width = _FORMAT_SPEC.match(spec or "")
        if width is not None and width.group("width") and int(width.group("width")) > 0:
            # checked before anything is filled in: {question:>2000000000} had this check build a text of 2 GB
            raise ValueError(f"placeholder {written} pads the {field} to {int(width.group('width')):,} characters with filling the model "
                             f"reads (a width of millions made every prompt that long) — write {{{field}}}")
        if conversion in ("r", "a"):
            # Python's repr (ascii: and its non-ASCII letters as escapes): {context!r} sent the retrieved chunks as one
            # quoted line, their line breaks written as \n, which the model read as written
            raise ValueError(f"placeholder {written} writes the {field} as a Python literal (quoted, its line breaks and "
                             + ("non-ASCII letters " if conversion == "a" else "special characters ")
                             + f"as escapes such as \\n), which the model reads as written — write {{{field}}}, in quotes if you want them")
        try:
            ("{0" + how + "}").format("text")
        except ValueError as exc:
            raise ValueError(f"placeholder {written} cannot be filled in with text ({exc}) — write {{{field}}}") from None
        # a precision cuts the text: {context:.500} kept the first 500 characters of the retrieved chunks, and the
        # retrieval scores counted the chunks after them as read; read from the spec, as the width is: a text one
        # character longer than {question:.2000000000} keeps was 2 GB
        if width is not None and width.group("precision") is not None:
            raise ValueError(f"placeholder {written} cuts the {field} short, and the model never reads the rest — write {{{field}}}"
                             + (" and retrieve less to shorten the prompt (the retrieval's k, the chunker's size)" if field == "context" else ""))


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready for a model: ``text`` for completion models, ``messages`` for chat models. ``stops``: where a
    completion model's answer ends when it runs on into a next turn of the template's own shape
    (``PromptTemplate.turn_stops``)."""

    text: str
    messages: tuple[tuple[str, str], ...]
    stops: tuple[str, ...] = ()


# A base model run as a completion model copies the context and then runs on into a new "Question:" line.
COMPLETION_STOPS = ("\nQuestion:", "Question:", "\nContext:")

# the label a template writes its question after, alone on the start of the question's line or on the line above it:
# "Q:", "User:", "### Q:"
_QUESTION_LABEL = re.compile(r"(?:^|\n)[ \t]*([^\n{}]{0,38}[^\s{}]:)[ \t]*(?:\n[ \t]*)?\{question[}!:]")


@dataclass(frozen=True)
class PromptTemplate:
    """A named template with ``{question}`` and ``{context}`` variables and an optional system message."""

    name: str
    text: str
    system: str = ""

    def __post_init__(self) -> None:
        check_template(self.text)
        check_system(self.system)

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.system}\0{self.text}".encode()).hexdigest()

    @property
    def turn_stops(self) -> tuple[str, ...]:
        """Where a completion model's answer ends when it runs on into a next turn of this template's shape: a new line
        opening with the label the question is written after (``\\nQ:`` for ``Q: {question}``, or for ``Q:`` alone on the
        line above it), unless a stop every completion answer ends at (``Question:``) covers it. A base model copies its prompt's shape: asked with
        ``{context}\\n\\nQ: {question}\\nA:`` it answered, then wrote ``Q:`` and ``A:`` lines until max_tokens."""
        found = _QUESTION_LABEL.search(self.text)
        if found is None:
            return ()
        stop = "\n" + found.group(1).strip()
        return () if any(known.strip() in stop for known in COMPLETION_STOPS) else (stop,)

    def render(self, *, question: str, context: str) -> RenderedPrompt:
        body = self.text.format(question=question, context=context)
        messages: tuple[tuple[str, str], ...] = ((("system", self.system),) if self.system else ()) + (("human", body),)
        text = f"{self.system}\n\n{body}" if self.system else body
        return RenderedPrompt(text=text, messages=messages, stops=self.turn_stops)
