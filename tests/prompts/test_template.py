import pytest

from workbench.prompts import PromptTemplate


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
