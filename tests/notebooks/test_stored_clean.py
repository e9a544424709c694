"""Notebooks are committed without outputs (they are executed by the tests, never stored executed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs — clear them before committing"


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell reads, and those it defines (assignments, imports, functions, loop and with targets)."""
    import ast

    tree = ast.parse(source)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return read, defined


def test_the_review_is_picked_up_after_a_kernel_restart_from_the_first_cell_alone() -> None:
    """Notebook 03's section 4 says: after restarting the kernel, run the first cell and open the review again. It
    read ``first`` and ``result`` of the cells before it (a NameError after a restart)."""
    import builtins

    book = nbformat.read(next(p for p in NOTEBOOKS if p.name.startswith("03_")), as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    later = next(c for c in code if "reopened" in c.source)
    _, setup_defined = _names(code[0].source)
    read, defined = _names(later.source)
    assert read - defined - setup_defined - set(dir(builtins)) == set()
