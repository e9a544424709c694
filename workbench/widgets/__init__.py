"""Jupyter widgets (ipywidgets) over the public API; they hold no logic of their own.

    from workbench.widgets import GridBuilder, RunPanel, Leaderboard, QuestionInspector, ChunkExplorer
    builder = GridBuilder(wb.load_experiment("../experiments/handbook.yaml"))
    panel = RunPanel(builder.spec)      # Run / Stop, progress per stage, live leaderboard, MLflow links
    result = panel.run()                # or press Run
    Leaderboard(result); QuestionInspector(result); ChunkExplorer("../datasets/handbook")
"""

from workbench.widgets._chunk_explorer import ChunkExplorer
from workbench.widgets._grid_builder import GridBuilder
from workbench.widgets._inspector import QuestionInspector
from workbench.widgets._leaderboard import Leaderboard
from workbench.widgets._run_panel import RunPanel

__all__ = ["ChunkExplorer", "GridBuilder", "Leaderboard", "QuestionInspector", "RunPanel"]
