"""The files an experiment reads: UTF-8 text (one line when it is not), and the prompt files read into templates
(refused in hidden or system folders)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from workbench.datasets import cwd_relative_fix, missing_path_fix, on_disk
from workbench.errors import SpecError
from workbench.prompts import check_template, problem_line
from workbench.spec._prompts import PromptSpec, _as_a_file_reads
from workbench.spec._yaml import _line_of


def _read_utf8(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the text (nor of a prompt)
    except UnicodeDecodeError as exc:
        if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff"):  # PowerShell's '>' and Out-File write UTF-16
            raise SpecError(f"{path}:1: {what} is UTF-16 text (byte-order mark 0x{exc.object[:2].hex()}), not UTF-8 — save it as UTF-8") from None
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: {what} is not UTF-8 text (byte {exc.object[exc.start]:#04x}) — save it as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def _text_of(path: Path) -> str | None:
    """A prompt file's text as a template read from it holds it; None when it cannot be read (gone, not UTF-8)."""
    try:
        return _as_a_file_reads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return None


def _read_prompt_files(
    data: dict[str, Any], base: Path, source: str, node: yaml.Node | None = None, *, relative_to: str | None = None,
    files_read: dict[int, Path] | None = None,
) -> dict[str, Any]:
    """``data`` with each prompt's ``file`` (relative to ``base``) read into its ``template``; ``relative_to`` says what
    ``base`` is in the error for a file not found (default: ``base`` itself). ``files_read``, when given, is filled with the
    index of each prompt read from a file and that file."""
    prompts = data.get("prompts")
    if not isinstance(prompts, (list, tuple)):
        return data
    read = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, PromptSpec) and prompt.template is None:
            prompt = prompt.model_dump(exclude_defaults=True)
        # `template:` left empty beside `file:` is no template (YAML reads it as null): the file is the prompt
        if isinstance(prompt, dict) and isinstance(prompt.get("file"), (str, os.PathLike)) and prompt["file"] and prompt.get("template") is None:
            prompt_path = on_disk(base / Path(prompt["file"]).expanduser())  # like the dataset and corpus paths
            if not prompt_path.is_file():
                where = f"{source}:{_line_of(node, ('prompts', i, 'file'))}" if node is not None else source
                moved = cwd_relative_fix(str(prompt["file"]), base)
                raise SpecError(f"{where}: prompts[{i}].file: {prompt['file']} "
                                f"{f'not found — {moved}' if moved else _not_a_prompt_file(prompt_path, relative_to or str(base))}")
            secret = _secret_place(prompt_path, base)
            if secret is not None:
                where = f"{source}:{_line_of(node, ('prompts', i, 'file'))}" if node is not None else source
                raise SpecError(f"{where}: prompts[{i}].file: {prompt['file']} is {secret} — copy the template into the project")
            template = _read_utf8(prompt_path, f"prompts[{i}].file")
            saved = _saved_prompt(prompt_path, template)
            if saved:
                raise SpecError(f"{prompt_path}: prompts[{i}].file: holds {saved}, not a template's text, and the model would read all of it "
                                f"— give its template as template:, or a text file holding only the template")
            try:
                check_template(template)
            except ValueError as exc:  # named where it is written: in the prompt file, at its line
                line = problem_line(template)
                raise SpecError(f"{prompt_path}{f':{line}' if line else ''}: prompts[{i}].file: {exc}") from None
            prompt = {k: v for k, v in prompt.items() if k not in ("file", "template")} | {"template": template}
            if files_read is not None:
                files_read[i] = prompt_path
        if isinstance(prompt, dict) and _names_a_file(prompt.get("system"), base):
            where = f"{source}:{_line_of(node, ('prompts', i, 'system'))}" if node is not None else source
            raise SpecError(f"{where}: prompts[{i}].system: {prompt['system']} is a file, but a system message is sent as written, so the "
                            "model would read its path — write the message itself (system: |, then its lines indented below)")
        read.append(prompt)
    return {**data, "prompts": read}


# the machine's kernel and runtime state: /proc/self/environ holds the process's keys, /run/secrets a container's
_SYSTEM_FOLDERS = frozenset({"proc", "sys", "dev", "run"})


def _secret_place(path: Path, base: Path) -> str | None:
    """Where a prompt file lies, when it is no place for one: a hidden folder or file outside the experiment's folder
    (``~/.docker/config.json``, ``~/.aws/credentials``), or a system folder, named or reached through a link. An
    experiment from someone else's branch can name one: its text was quoted in the error, or sent to the model and
    logged. None for any other file, a hidden one of the project's own too."""
    target, root = Path(os.path.realpath(path)), os.path.realpath(base)
    link = f"a link to {target}, " if str(target) != os.path.abspath(path) else ""
    if target.parts[1:2] and target.parts[1] in _SYSTEM_FOLDERS:
        return f"{link}in the system folder /{target.parts[1]}, which holds no prompt"
    if target.is_relative_to(root):
        return None
    beyond = target.relative_to(os.path.commonpath([target, root]))
    if any(part.startswith(".") for part in beyond.parts):
        return f"{link}in a hidden folder or file outside the experiment's folder (keys and settings live there)"
    return None


def _saved_prompt(path: Path, text: str) -> str:
    """What a ``.json`` or ``.yaml`` prompt file holds when it is a saved prompt rather than a template's text (a LangChain
    prompt's ``save()``, a promptfoo or OpenAI list of chat messages): '' when it is text. One without braces of its own
    (a YAML ``template: |`` over {context} and {question}) was sent whole, keys and all, as every prompt."""
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        return ""
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):  # text with a brace or colon of its own, not JSON or YAML
        return ""
    if isinstance(data, dict) and {"_type", "template", "messages"} & set(data):
        return f"a saved prompt (a mapping with '{next(k for k in ('template', 'messages', '_type') if k in data)}')"
    if isinstance(data, list) and data and all(isinstance(m, dict) and {"role", "content"} & set(m) for m in data):
        return "a list of chat messages"
    return ""  # text that reads as YAML too ("Context: {context}" is a mapping)


def _names_a_file(text: Any, base: Path) -> bool:
    """Whether a one-line ``text`` is the path of a file (relative to ``base``): a system message given as the file
    holding it, as a template's ``file:`` is, which was sent to the model as the path."""
    if not isinstance(text, str) or not text.strip() or "\n" in text:
        return False
    try:
        return (base / Path(text.strip()).expanduser()).is_file()
    except (OSError, ValueError):  # a message too long for a file name, or holding a NUL
        return False


def _not_a_prompt_file(path: Path, relative_to: str) -> str:
    """Why ``path`` (no regular file) cannot be read as a prompt, and what to do: a folder was said to be "not found"."""
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))[:3]
        holds = f" (it holds {', '.join(found)})" if found else ""
        return f"is a folder, not a file — give the template's file{holds}"
    if path.exists():  # /dev/stdin, a pipe: reading it would wait forever
        return "is not a regular file — give a text file holding the template"
    return f"not found — {missing_path_fix(path, f'check the path (relative paths are from {relative_to})')}"
