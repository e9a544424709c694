"""The questions of the promotion tests' fake sweeps and the scripted answers their fake models give.

Apart from conftest.py (which imports them from here): a sweep's worker process unpickles a fake model's answer
function by reference, importing the module that defines it, and conftest.py brought pytest with it (0.1 s of CPU in
each worker of each sweep). This module imports only what the answers need.
"""

from __future__ import annotations

from workbench.prompts import RenderedPrompt

CASES = [
    {"id": "q1", "question": "When does the else clause of a loop run?", "reference": "when the loop ends without break", "source_ids": ["loops"]},
    {"id": "q2", "question": "How is a function defined?", "reference": "a function is defined with def", "source_ids": ["functions"]},
    {"id": "q3", "question": "How are instances created?", "reference": "by calling the class object", "source_ids": ["classes"]},
    {"id": "q4", "question": "How are exceptions handled?", "reference": "with try and except clauses", "source_ids": ["errors"]},
    {"id": "q5", "question": "What does the return statement do in a function?", "reference": "it leaves the function and gives back a value", "source_ids": ["functions"]},
]
# three more questions for a sweep whose intervals must depend on their seed: on 5 questions the 95% interval's bounds
# are the extremes of the resampled means, which every seed draws alike
MORE_CASES = [
    {"id": "q6", "question": "What does a for loop iterate over?", "reference": "the items of a sequence", "source_ids": ["loops"]},
    {"id": "q7", "question": "How is a class defined?", "reference": "a class is defined with class", "source_ids": ["classes"]},
    {"id": "q8", "question": "How are exceptions raised?", "reference": "exceptions are raised with raise", "source_ids": ["errors"]},
]
REFERENCES = {c["question"]: c["reference"] for c in CASES + MORE_CASES}


def scripted_answer(prompt: RenderedPrompt) -> str:
    """The GOOD prompt gets the reference answer, the BAD one a useless answer: a clear, known difference."""
    question = prompt.text.split("Question:", 1)[1].split("\n", 1)[0].strip()
    return REFERENCES[question] if prompt.text.startswith("GOOD") else "I am not sure about that."


def partly_right_answer(prompt: RenderedPrompt) -> str:
    """Scores that vary from question to question (so do their bootstrap intervals): the GOOD prompt gets all but the
    last word of the reference, the BAD one its first two words."""
    question = prompt.text.split("Question:", 1)[1].split("\n", 1)[0].strip()
    words = REFERENCES[question].split()
    return " ".join(words[:-1] if prompt.text.startswith("GOOD") else words[:2])
