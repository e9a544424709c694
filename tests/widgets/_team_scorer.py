"""A team's own scorer, ``widget_team_words``, registered when this module is imported (by test_widgets.py).

Not defined in test_widgets.py: a sweep sends every registered scorer to its worker processes by reference, so each
worker of every later sweep in the pytest process imported the module defining it, and that one's imports (pytest,
ipywidgets and the widgets: 0.3 s of CPU in each worker). This module imports only workbench, which workers have.
"""

from __future__ import annotations

import workbench as wb


@wb.scorer("widget_team_words")
def team_words(env: wb.ScorerEnv):  # type: ignore[no-untyped-def]
    def score(ctx: wb.ScoreContext) -> wb.Score:
        if "14 days" not in ctx.answer:
            raise ValueError("no date in the answer")  # a team scorer that breaks on some answers
        return wb.Score(float(len(ctx.answer.split())))

    return score
