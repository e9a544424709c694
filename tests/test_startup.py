"""Start-up stays light: ``workbench --help`` and ``import workbench`` load none of the heavy libraries.

The heavy libraries (MLflow, pandas, Chroma, torch, llama.cpp, ragas, ...) are imported inside the functions that need
them. A module-level import of one of them anywhere under ``import workbench`` fails this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "chromadb", "diskcache", "ipywidgets", "langchain", "langchain_core", "llama_cpp", "matplotlib", "mlflow", "numpy",
    "pandas", "ragas", "scipy", "sentence_transformers", "torch", "transformers",
)


def heavy_modules_after(statement: str) -> list[str]:
    code = f"{statement}; import json, sys; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("statement", ["import workbench.cli", "import workbench"])
def test_importing_workbench_loads_no_heavy_library(statement: str) -> None:
    assert heavy_modules_after(statement) == []


def test_the_cli_parser_loads_no_heavy_library() -> None:
    statement = "from workbench.cli import build_parser; build_parser().parse_args(['run', 'x.yaml', '--fresh'])"
    assert heavy_modules_after(statement) == []


def test_opening_an_index_does_not_compile_the_iri_grammars_and_iri_formats_still_validate() -> None:
    """Chroma imports jsonschema, which imports rfc3987_syntax: 2-3 s of parser compiling per process, deferred."""
    code = (
        "import sys, json; import workbench, chromadb; deferred = type(sys.modules['rfc3987_syntax']).__name__;"
        " from jsonschema import Draft202012Validator as V;"
        " v = V({'format': 'iri-reference'}, format_checker=V.FORMAT_CHECKER);"
        " print(json.dumps([deferred, v.is_valid('http://example.com/a b'), v.is_valid('../a?b#c'),"
        " type(sys.modules['rfc3987_syntax']).__name__]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["_Deferred", False, True, "module"]


def test_the_workbench_command_is_main_then_its_exit_code_without_the_last_garbage_collection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the interpreter's last collection walked every object of MLflow, Chroma and torch: 2-3 s after the output
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["workbench"] == "workbench.cli:console"
    code = ("import gc, sys; from workbench.cli import console; sys.argv = ['workbench', 'list', 'nope', '--tracking-uri', "
            f"{'sqlite:///' + str(tmp_path / 'none.db')!r}]\n"
            "try:\n    console()\nexcept SystemExit as exc:\n    print(exc.code, gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["2", "True"], out.stderr
