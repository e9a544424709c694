"""A user's own GGUF files (``llamacpp:<path>``) that are no model able to answer: each is one line naming the file
and what to do, found from its header before anything loads (a dry run finds it too), not llama.cpp's bare "Failed
to load model from file" on every question after the indexes were built, nor an empty answer. Most files here are
written by ``gguf_file``, read in microseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ModelError
from workbench.models import DEFAULT_CONTEXT_WINDOW, GenerationParams, load_generator
from workbench.models._gguf import read_gguf
from workbench.models._local import smollm2_path
from workbench.prompts import RenderedPrompt

from tests.fake_gguf import gguf_file


def refusal(path: Path, kind: str | None = None) -> str:
    with pytest.raises(ModelError) as caught:
        load_generator(f"llamacpp:{path}", kind=kind)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_gguf_file_cut_short_in_its_header_is_refused_before_anything_loads(tmp_path: Path) -> None:
    # the first megabyte of a real model: it starts with 'GGUF', and llama.cpp failed it on every question
    cut = tmp_path / "model.gguf"
    with open(smollm2_path(), "rb") as fh:
        cut.write_bytes(fh.read(1_000_000))
    assert refusal(cut) == (f"model 'llamacpp:{cut}': {cut} is cut short: its header runs past its end (at 1,000,000 bytes) "
                            "— download or copy it again, whole")


def test_a_gguf_file_cut_short_in_its_tensor_data_is_refused_with_the_bytes_it_lacks(tmp_path: Path) -> None:
    whole = gguf_file(tmp_path / "whole.gguf", {"general.architecture": "llama"}, tensor_bytes=64)
    cut = gguf_file(tmp_path / "cut.gguf", {"general.architecture": "llama"}, tensor_bytes=64, cut=1)
    assert read_gguf(whole).needed_bytes == whole.stat().st_size
    assert refusal(cut) == (f"model 'llamacpp:{cut}': {cut} is cut short: its tensors need {whole.stat().st_size:,} bytes and "
                            f"it holds {cut.stat().st_size:,} — download or copy it again, whole")


def test_a_quantised_tensor_is_sized_by_its_blocks(tmp_path: Path) -> None:
    # Q8_1: 40 bytes a block of 32 values (a table of 36 let a file 4 bytes short through)
    whole = gguf_file(tmp_path / "whole.gguf", {"general.architecture": "llama"}, tensor_bytes=40, ggml_type=9, values=32)
    assert read_gguf(whole).needed_bytes == whole.stat().st_size
    cut = gguf_file(tmp_path / "cut.gguf", {"general.architecture": "llama"}, tensor_bytes=40, ggml_type=9, values=32, cut=2)
    assert "is cut short: its tensors need" in refusal(cut)


def test_the_embedded_gguf_is_whole_by_its_own_header() -> None:
    # the block sizes of its quantisation (Q4_1) and its alignment account for every byte of the real file
    info = read_gguf(smollm2_path())
    assert info.needed_bytes == smollm2_path().stat().st_size
    assert (info.version, info.architecture, info.has_chat_template) == (3, "llama", True)


def test_a_gguf_file_of_a_version_llama_cpp_does_not_read_is_refused(tmp_path: Path) -> None:
    old = gguf_file(tmp_path / "old.gguf", {}, version=1)
    assert refusal(old).endswith(f"{old} is a GGUF file of version 1, which llama.cpp does not read (it reads versions 2 and 3) "
                                 "— download the model as a current GGUF file")


def test_a_folder_or_a_broken_link_named_gguf_says_what_lies_there(tmp_path: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()
    assert refusal(folder) == f"model 'llamacpp:{folder}': {folder} is a folder — give the path of the .gguf file in it"
    link = tmp_path / "link.gguf"
    link.symlink_to(tmp_path / "gone.gguf")
    assert refusal(link) == (f"model 'llamacpp:{link}': {link} is a link to {tmp_path / 'gone.gguf'}, which does not exist — "
                             "link it to the .gguf file, or give that file's path")


def test_a_windows_path_is_told_to_use_slashes(tmp_path: Path) -> None:
    path = f"{tmp_path}/models\\x.gguf"
    assert refusal(Path(path)).endswith(f"no such file {path} (a \\ is part of a file name here: write the path with /)")


def test_a_gguf_file_without_a_chat_template_is_not_served_as_a_chat_model(tmp_path: Path) -> None:
    # llama-cpp-python fell back to Llama-2's [INST] tags: Gemma 3 270M's own file answered every question with ''
    base = gguf_file(tmp_path / "base.gguf", {"general.architecture": "gemma3"}, tensor_bytes=32)
    assert refusal(base, "chat") == (f"model 'llamacpp:{base}': {base} has no chat template (tokenizer.chat_template), so it "
                                     "cannot be served as a chat model — set kind: completion, or leave kind out")
    assert load_generator(f"llamacpp:{base}").kind == "completion"
    chat = gguf_file(tmp_path / "chat.gguf", {"general.architecture": "llama", "tokenizer.chat_template": "{{ messages }}"},
                     tensor_bytes=32)
    assert load_generator(f"llamacpp:{chat}", kind="chat").kind == "chat"


@pytest.mark.parametrize(("metadata", "said"), [
    ({"general.architecture": "llama", "general.type": "adapter"}, "is a LoRA adapter, not a model on its own — give the "
     "language model's .gguf file"),
    ({"general.architecture": "clip", "general.type": "mmproj"}, "is a multimodal projector (mmproj), not a model on its own "
     "— give the language model's .gguf file"),
    ({"general.architecture": "bert"}, "is an embedding model (architecture bert), which writes no answers — give a text "
     "generation model's .gguf file"),
])
def test_a_gguf_file_that_writes_no_answers_is_refused(tmp_path: Path, metadata: dict[str, str], said: str) -> None:
    path = gguf_file(tmp_path / "part.gguf", metadata, tensor_bytes=32)
    assert refusal(path) == f"model 'llamacpp:{path}': {path} {said}"


def test_a_whole_gguf_file_llama_cpp_cannot_load_says_why_and_what_to_do(tmp_path: Path) -> None:
    # llama-cpp-python's ValueError said only "Failed to load model from file"; llama.cpp's reason went nowhere
    path = gguf_file(tmp_path / "new.gguf", {"general.architecture": "nosuch-arch"})
    generator = load_generator(f"llamacpp:{path}")
    with pytest.raises(ModelError) as caught:
        generator.generate(RenderedPrompt(text="Hi", messages=()), GenerationParams(max_tokens=1))
    said = str(caught.value)
    assert said.startswith(f"llama.cpp could not load {path} (unknown model architecture: 'nosuch-arch') — a model "
                           "architecture newer than llama-cpp-python ")
    assert said.endswith("knows needs a newer one (pip install -U llama-cpp-python); a damaged file: download it again")


def test_two_threads_failing_to_load_at_once_each_say_their_own_file_s_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # llama.cpp's error lines were kept in one list for the process: two threads whose loads failed together (a
    # notebook's sweeps, isolation: none) both named the reason the first of them logged
    import threading

    import llama_cpp

    from workbench.models import _local

    log = _local._quiet_llama_log()
    both_logged = threading.Barrier(2, timeout=30)

    class FailingLlama:
        def __init__(self, model_path: str, **_: object) -> None:
            log(4, f"llama_model_load: error loading model: the reason of {Path(model_path).name}\n".encode(), None)
            both_logged.wait()
            raise ValueError(f"Failed to load model from file: {model_path}")

    monkeypatch.setattr(llama_cpp, "Llama", FailingLlama)
    said: dict[str, str] = {}

    def load(name: str) -> None:
        try:
            _local._load_llama(f"/models/{name}.gguf", 2048, 1, (0, 0, 0, 0))
        except ModelError as exc:
            said[name] = str(exc)

    threads = [threading.Thread(target=load, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert said["a"].startswith("llama.cpp could not load /models/a.gguf (the reason of a.gguf) — "), said
    assert said["b"].startswith("llama.cpp could not load /models/b.gguf (the reason of b.gguf) — "), said


class TemplatedLlama:
    """A llama.cpp model as ``_chat_completion`` calls it, rendering the messages with a chat template as
    llama-cpp-python does (its Jinja2 formatter, whose ``raise_exception`` raises a ValueError)."""

    def __init__(self, template: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.formatter = Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>")

    def create_chat_completion(self, messages: list[dict[str, str]], **options: object) -> object:
        return self.formatter(messages=messages)  # type: ignore[arg-type]


# Gemma 2's chat template, as far as it refuses a system message
NO_SYSTEM = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
             "{% for m in messages %}{{ m['content'] }}{% endfor %}")


def test_a_chat_template_refusing_the_prompts_messages_says_what_to_change() -> None:
    # the template's bare "ValueError: System role not supported" on every question, with nothing to do about it
    from workbench.models._local import _chat_completion

    system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is pass?"}]
    with pytest.raises(ModelError) as caught:
        _chat_completion("llamacpp:gemma2.gguf", TemplatedLlama(NO_SYSTEM), system, DEFAULT_CONTEXT_WINDOW)
    assert str(caught.value) == ("llamacpp:gemma2.gguf: its chat template refuses the prompt's messages: System role not supported "
                                 "— write the prompt without a system message (its system:), or serve it as kind: completion")
    assert _chat_completion("llamacpp:gemma2.gguf", TemplatedLlama(NO_SYSTEM), system[1:], DEFAULT_CONTEXT_WINDOW).prompt == "What is pass?"


def test_a_chat_template_llama_cpp_python_cannot_read_says_so_whatever_the_kind(tmp_path: Path) -> None:
    # llama-cpp-python compiles the file's template as it loads it: jinja2's bare TemplateSyntaxError on every question
    path = tmp_path / "model.gguf"
    data = bytearray(smollm2_path().read_bytes())
    start = data.index(b"{% for message in messages %}")
    data[start:start + 6] = b"{% fxr"  # an unknown tag, the length of the one it replaces
    path.write_bytes(data)
    with pytest.raises(ModelError) as caught:
        load_generator(f"llamacpp:{path}").generate(RenderedPrompt(text="Hi", messages=()), GenerationParams(max_tokens=1))
    said = str(caught.value)
    assert said.startswith("llama-cpp-python ") and said.endswith(
        f" cannot read the chat template in {path} (Encountered unknown tag 'fxr'.), so it cannot load the file — a newer "
        "llama-cpp-python may (pip install -U llama-cpp-python); or use another GGUF file of the model")
