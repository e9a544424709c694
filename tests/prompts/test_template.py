import re

import pytest

from workbench.prompts import PromptTemplate

from tests.complexity import assert_linear_time


@pytest.mark.parametrize("system", ["Answer from {context} only.", "Answer from { context } only.", "Use {{context}}.", "{Question}"])
def test_a_system_message_holding_a_placeholder_is_refused_however_the_template_is_built(system: str) -> None:
    # built in Python (wb.PromptTemplate, a bundle's prompts/<name>.system.txt) the system message was not checked:
    # it is sent as written, so the model read the text '{context}' instead of the retrieved chunks
    with pytest.raises(ValueError, match=r"^system: .* is not filled in in the system message, only in the template — move it into 'template'$"):
        PromptTemplate("p", "{context}\n{question}", system)


def test_a_system_message_with_braces_of_its_own_is_sent_as_written() -> None:
    system = 'Reply as JSON: {"answer": "...", "contexts_used": 2}'
    rendered = PromptTemplate("p", "{context}\n{question}", system).render(question="Q?", context="C.")
    assert rendered.messages == (("system", system), ("human", "C.\nQ?"))


@pytest.mark.parametrize(("template", "stops"), [
    ("{context}\n\nQ: {question}\nA:", ("\nQ:",)),
    # the label alone on the line above the question: Gemma 3 270M answered, then wrote '\n\nQ:\n<a question of its own>\n\nA:\n'
    # until max_tokens, and every answer was scored with the turns it made up
    ("Context:\n{context}\n\nQ:\n{question}\n\nA:\n", ("\nQ:",)),
    ("### Context\n{context}\n### User:\n  {question}\n### Assistant:\n", ("\n### User:",)),
    ("Context:\n{context}\n\nQuestion:\n{question}\nAnswer:", ()),  # the stop every completion answer ends at covers it
    ("{context}\n\n{question}", ()),
])
def test_a_completion_answer_stops_at_a_next_turn_of_its_templates_shape(template: str, stops: tuple[str, ...]) -> None:
    assert PromptTemplate("p", template).turn_stops == stops


def test_an_example_of_the_answers_shape_naming_context_or_question_is_text_not_a_placeholder() -> None:
    # refused as a placeholder written Jinja's way ('{{context: ...}} is the text ...', 'system: {context: ...} is not
    # filled in'): an output format that names its fields after what the model reads is no placeholder
    template = "{context}\n\nQ: {question}\nReply as {{context: <the sentence you used>, question: <the question>, answer: ...}}"
    system = 'Reply as {context: <the sentence you used>, answer: ...} or {"question": "...", "answer": "..."}'
    rendered = PromptTemplate("p", template, system).render(question="Q?", context="C.")
    assert rendered.messages == (("system", system), ("human", "C.\n\nQ: Q?\nReply as {context: <the sentence you used>, question: <the "
                                                               "question>, answer: ...}"))


def test_a_long_line_of_braces_is_checked_in_linear_time() -> None:
    # a search for a Jinja tag ran to the end of the line from every '{%': 27 s on a line of 80,000 characters
    from workbench.prompts import check_template

    def check(n: int) -> None:
        with pytest.raises(ValueError, match="malformed placeholder"):
            check_template("{context}\n{question}\n" + "{%" * n)

    assert_linear_time(check, 10_000)


@pytest.mark.parametrize(("template", "system", "where"), [("{context}\n{question}\0", "", ""), ("{context}\n{question}", "Be brief.\0", "system: ")])
def test_a_nul_character_in_a_template_or_system_message_is_refused(template: str, system: str, where: str) -> None:
    # accepted, where a dataset's question or a corpus file holding one is refused: PostgreSQL (a tracking server's
    # store, its Prompt Registry) cannot store it
    with pytest.raises(ValueError, match=rf"^{where}holds a NUL character \(\\u0000\), which a database cannot store .* — remove it"):
        PromptTemplate("p", template, system)


@pytest.mark.parametrize(("template", "expected"), [
    ("{contex}\n{question}", "unknown variable {contex} — write {context}"),  # a typo
    ("{context}\n{qustion}", "unknown variable {qustion} — write {question}"),
    ("{contexts}\n{question}", "unknown variable {contexts} — write {context}"),  # ragas's name for the retrieved chunks
    # LlamaIndex's text_qa_template and LangChain's create_retrieval_chain name them so
    ("Context information is below.\n{context_str}\nQuery: {query_str}\nAnswer: ", "unknown variable {context_str} — write {context}"),
    ("Answer from {context}.\n{input}", "unknown variable {input} — write {question}"),
    ("{context}\n{query}", "unknown variable {query} — write {question}"),
])
def test_an_unknown_variable_says_which_placeholder_it_likely_is(template: str, expected: str) -> None:
    from workbench.prompts import check_template

    with pytest.raises(ValueError, match=rf"^{re.escape(expected)} \(templates may use only {{question}} and {{context}}\)$"):
        check_template(template)


def test_an_unknown_variable_like_neither_placeholder_says_which_there_are_and_how_to_write_it_as_text() -> None:
    from workbench.prompts import check_template

    with pytest.raises(ValueError, match=r"^unknown variable {customer_name} — templates may use only {question} and {context}; for the text "
                                         r"'{customer_name}' write {{customer_name}}$"):
        check_template("{context}\n{question}\nStart the reply with 'Dear {customer_name},'.")
    rendered = PromptTemplate("p", "{context}\n{question}\nStart the reply with 'Dear {{customer_name}},'.").render(question="Q?", context="C.")
    assert rendered.text == "C.\nQ?\nStart the reply with 'Dear {customer_name},'."


@pytest.mark.parametrize("template", ["", "  \n\t\n"])
def test_an_empty_template_says_it_is_empty(template: str) -> None:
    # 'missing variable {question}' of a file saved empty (or an editor's blank lines): was the right file read?
    from workbench.prompts import check_template

    with pytest.raises(ValueError, match=r"^the template is empty — write the prompt, with \{question\} where the question goes \(and usually "
                                         r"\{context\} where the retrieved chunks go\)$"):
        check_template(template)
