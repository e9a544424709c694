"""A number of the spec written as Excel or a European keyboard writes it, or as no number at all, is one line naming
its field (or key) and line and what to write: a decimal comma (``temperature: 0,7``, which YAML reads as text, or
inside ``{...}`` as two entries), a thousands separator, NaN and infinity (pydantic's "Input should be a finite number"
named neither the value nor what to do). Checked as a class, over the spec's number fields of every section."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import SpecError
from workbench.spec import load_experiment

SPEC = """\
name: t
dataset:
  path: d.jsonl
prompts:
  - name: a
    template: "{context} {question}"
models:
  - id: local:gemma3-270m
    params:
      temperature: 0
chunkers:
  - strategy: recursive
    size: 400
limits:
  wall_time_s: 600
"""


def refused(tmp_path: Path, old: str, new: str) -> tuple[int, str]:
    path = tmp_path / "exp.yaml"
    assert old in SPEC
    path.write_text(SPEC.replace(old, new), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    where, said = str(info.value).split(": ", 1)
    assert where.startswith(f"{path}:"), str(info.value)
    return int(where.rsplit(":", 1)[1]), said


@pytest.mark.parametrize(("old", "new", "line", "said"), [
    ("temperature: 0\n", "temperature: 0,7\n", 10, "models[0].params.temperature: '0,7' is written with a decimal comma — write 0.7"),
    ("wall_time_s: 600\n", "wall_time_s: 1,000\n", 15,
     "limits.wall_time_s: '1,000' is written with a decimal comma — write 1.000 (or 1000, if the comma separates thousands)"),
    ("size: 400\n", "size: 1,000\n", 13, "chunkers[0].size: '1,000' is written with a thousands separator — write 1000"),
    ("size: 400\n", "size: 2,5\n", 13,
     "chunkers[0].size: '2,5' is written with a decimal comma, and this field takes a whole number — write one, e.g. 2"),
    ("params:\n      temperature: 0\n", "params: {temperature: 0,7}\n", 9,
     "temperature: 0,7 — inside {...} a comma separates entries, so YAML read 0 and a key 7: write 0.7"),
    ("limits:\n  wall_time_s: 600\n", "limits: {wall_time_s: 1,000}\n", 14,
     "wall_time_s: 1,000 — inside {...} a comma separates entries, so YAML read 1 and a key 000: write 1.000 or 1000, "
     "without the thousands separator"),
    ("wall_time_s: 600\n", "wall_time_s: .nan\n", 15, "limits.wall_time_s: .nan is not a finite number — give a finite number"),
    ("wall_time_s: 600\n", "wall_time_s: -.inf\n", 15,
     "limits.wall_time_s: -.inf is not a finite number (a number past 1e308 reads as .inf) — give a finite number"),
    ("wall_time_s: 600\n", "max_cost_usd: 1e999\n", 15,
     "limits.max_cost_usd: .inf is not a finite number (a number past 1e308 reads as .inf) — give a finite number"),
    ("temperature: 0\n", "temperature: 'nan'\n", 10, "models[0].params.temperature: 'nan' is not a finite number — give a finite number"),
    ("size: 400\n", "size: .inf\n", 13, "chunkers[0].size: .inf is not a finite number (a number past 1e308 reads as .inf) — give a finite number"),
])
def test_a_number_written_with_a_comma_or_not_finite_says_what_to_write(tmp_path: Path, old: str, new: str, line: int, said: str) -> None:
    assert refused(tmp_path, old, new) == (line, said)


def test_a_comma_that_separates_entries_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(SPEC.replace("params:\n      temperature: 0\n", "params: {temperature: 0, max_tokens: 32}\n"), encoding="utf-8")
    assert load_experiment(path).models[0].params.max_tokens == 32  # type: ignore[union-attr]
