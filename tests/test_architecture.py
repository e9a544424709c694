"""The house as a test: import contracts (import-linter), no import cycles, no private names across packages, names
used across packages listed in their module's ``__all__``, registry aliases written only by promotion, and a deliberate
public surface."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench as wb

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workbench"
LINT = Path(sys.executable).with_name("lint-imports")

# Changing the public surface is a decision: update this list in the same commit, and say why in its message.
PUBLIC_NAMES = [
    "BudgetExceeded",
    "BundleError",
    "CalibrationReport",
    "ComparisonReport",
    "Corpus",
    "DataError",
    "Dataset",
    "Document",
    "Embedder",
    "EvalCase",
    "ExperimentSpec",
    "ExportError",
    "GateFailed",
    "Generator",
    "IndexStore",
    "Judge",
    "JudgeReply",
    "MemoryIndexStore",
    "MemoryTracker",
    "MlflowTracker",
    "ModelError",
    "ProgressEvent",
    "PromotionError",
    "PromptTemplate",
    "Score",
    "ScoreContext",
    "ScorerEnv",
    "Settings",
    "SpecError",
    "SweepPlan",
    "SweepResult",
    "Tracker",
    "Variant",
    "VariantResult",
    "WorkbenchError",
    "calibrate",
    "compare",
    "diff_questions",
    "expand_grid",
    "experiment_json_schema",
    "export",
    "load_bundle",
    "load_corpus",
    "load_dataset",
    "load_experiment",
    "load_judge",
    "plan_sweep",
    "promote",
    "rollback",
    "run",
    "scorer",
    "settings",
]


def _modules(root: Path = PACKAGE) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str, path: Path) -> Iterator[tuple[int, str, str | None]]:
    """Every import in a module (function-level ones too): (line, target module, imported name or None)."""
    package = _package_of(module, path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, base, alias.name


def _lint(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def test_the_import_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


@pytest.mark.parametrize(
    ("module", "backward"),
    [("scoring/_backward.py", "from workbench.tracking import load_variant_table\n"),
     ("pipeline/_backward.py", "def later():\n    import workbench.comparison\n")],  # inside a function counts too
)
def test_a_backward_import_breaks_the_contracts(tmp_path: Path, module: str, backward: str) -> None:
    shutil.copytree(PACKAGE, tmp_path / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "workbench" / module).write_text(backward, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = _lint(tmp_path, env)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-2000:]
    assert f"workbench.{module.removesuffix('.py').replace('/', '.')}" in done.stdout


def test_no_import_cycle_among_modules() -> None:
    names = {name for name, _ in _modules()}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in _modules():
        for _, target, imported in _imports(name, path):
            for candidate in (f"{target}.{imported}" if imported else None, target):
                if candidate in names:
                    graph[name].add(candidate)
                    break
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == []


def test_no_private_name_crosses_a_package_border() -> None:
    crossings = []
    for name, path in _modules():
        package = _package_of(name, path)
        for line, target, imported in _imports(name, path):
            if not target.startswith("workbench"):
                continue
            private_module = next((p for p in target.split(".")[1:] if p.startswith("_") and p != "__init__"), None)
            if private_module is not None:
                owner = target.split("." + private_module)[0]
                if owner != package and not package.startswith(owner + "."):
                    crossings.append(f"{path.relative_to(ROOT)}:{line}: {target}")
            elif imported and imported.startswith("_") and not imported.startswith("__") and target != package:
                crossings.append(f"{path.relative_to(ROOT)}:{line}: {target}.{imported}")
    assert crossings == []


# packages whose modules still lend each other private names (``_name``), to be given public names in their modules
SHARING_PRIVATE_NAMES = {"cli", "datasets", "execution", "redaction", "scoring", "spec", "tracking"}


def test_a_module_lends_its_siblings_only_public_names() -> None:
    # a module's interface is its public names: promotion's _export used _corpus_check's _evaluated_hashes and _promote's
    # _check_target, so what each module offered the others could be learnt only by reading every importer
    modules = {name for name, _ in _modules()}
    borrowed = []
    for name, path in _modules():
        package = _package_of(name, path)
        if package.split(".")[1:2] and package.split(".")[1] in SHARING_PRIVATE_NAMES:
            continue
        for line, target, imported in _imports(name, path):
            sibling = package in (target, target.rpartition(".")[0])
            if sibling and imported and imported.startswith("_") and not imported.startswith("__") and f"{target}.{imported}" not in modules:
                borrowed.append(f"{path.relative_to(ROOT)}:{line}: {target}.{imported}")
    assert borrowed == []


def test_a_name_imported_across_packages_is_in_its_modules_all() -> None:
    # a public module's __all__ is what other packages may use of it: tracking read config's plots_wanted, which
    # config.__all__ did not name, so the module's API was not the one its readers saw
    import importlib

    modules = {name for name, _ in _modules()}
    unlisted = []
    for name, path in _modules():
        importer = ".".join(name.split(".")[:2])
        for line, target, imported in _imports(name, path):
            parts = target.split(".")
            # within a package only its __init__'s re-exports count: pipeline re-exported index's embed_chunks, which
            # index.__all__ did not name
            within = ".".join(parts[:2]) == importer and not (path.name == "__init__.py" and name == importer)
            if parts[0] != "workbench" or any(p.startswith("_") for p in parts[1:]) or within:
                continue
            if imported is None or imported.startswith("_") or imported == "*" or f"{target}.{imported}" in modules:
                continue
            if imported not in importlib.import_module(target).__all__:
                unlisted.append(f"{path.relative_to(ROOT)}:{line}: {target}.{imported}")
    assert unlisted == []


def test_a_package_that_maps_its_modules_names_every_one() -> None:
    # a newcomer reads a package's docstring to find their way: the cli's map left out _group_guard, so the module that
    # stops a server's processes when the CLI dies was found only by reading _servers
    import re

    unnamed = []
    for name, path in _modules():
        if path.name != "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        modules = sorted(p.stem for p in path.parent.glob("_*.py") if p.stem not in ("__init__", "__main__"))
        named = [m for m in modules if re.search(rf"(?<![\w.]){m}(?!\w)", doc)]
        if len(named) >= 2:  # the docstring is a map of its modules
            unnamed += [f"{name}.{m}" for m in modules if m not in named]
    assert unnamed == []


def test_only_promotion_writes_registry_aliases() -> None:
    writers = {"set_registered_model_alias", "delete_registered_model_alias", "set_prompt_alias", "delete_prompt_alias"}
    found = []
    for name, path in _modules():
        if name.startswith("workbench.promotion"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in writers:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.attr}")
    assert found == []
    # the same walk finds the writers where they are used, so the check above cannot pass by looking for nothing
    used = {node.attr for name, path in _modules() if name.startswith("workbench.promotion")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Attribute) and node.attr in writers}
    assert {"set_registered_model_alias", "set_prompt_alias"} <= used


def test_the_public_surface_is_deliberate() -> None:
    assert sorted(wb.__all__) == PUBLIC_NAMES
    for name in wb.__all__:
        assert getattr(wb, name) is not None
    # every type wb.run accepts is public
    import inspect

    hints = inspect.signature(wb.run).parameters
    for param in ("tracker", "index_store", "settings"):
        annotation = str(hints[param].annotation)
        assert any(public in annotation for public in ("Tracker", "IndexStore", "Settings")), annotation
    for public in ("Tracker", "IndexStore", "Settings", "Generator", "Embedder", "Judge"):
        assert public in wb.__all__
