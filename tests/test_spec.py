import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from workbench.errors import SpecError
from workbench.grid import expand_grid, prompt_hash
from workbench.spec import ExperimentSpec, experiment_json_schema, load_experiment, read_yaml

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
name: t
dataset:
  path: d.jsonl
corpus:
  builtin: python-reference
prompts:
  - name: a
    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"
models:
  - id: local:gemma3-270m
    params:
      max_tokens: 32
chunkers:
  - strategy: recursive
    size: 400
    overlap: 40
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_spec_loads_with_defaults(tmp_path: Path) -> None:
    spec = load_experiment(write(tmp_path, GOOD))
    assert spec.models[0].resolved_kind == "completion"
    assert spec.retrieval[0].embedding == "local:all-minilm-l6-v2"
    assert spec.resolve(spec.dataset.path) == tmp_path / "d.jsonl"


def test_yaml_round_trip_is_lossless(tmp_path: Path) -> None:
    spec = load_experiment(write(tmp_path, GOOD))
    again = ExperimentSpec.model_validate(yaml.safe_load(spec.to_yaml()))
    assert again.model_dump() == spec.model_dump()
    assert again.hash == spec.hash
    saved = spec.save(tmp_path / "copy.yaml")
    assert load_experiment(saved).hash == spec.hash


def test_a_spec_saved_into_another_folder_still_names_the_same_dataset_and_corpus(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    text = GOOD.replace("  path: d.jsonl\n", "  path: ../data/d.jsonl\n").replace("  builtin: python-reference\n", "  path: ../data/docs\n")
    spec = load_experiment(write(tmp_path / "exp", text))
    # the copy said 'path: ../data/d.jsonl' again, read from out/nested/: tmp/out/data/d.jsonl, not found
    copy = load_experiment(spec.save(tmp_path / "out" / "nested" / "copy.yaml"))
    assert copy.resolve(copy.dataset.path).resolve() == (tmp_path / "data" / "d.jsonl")
    assert copy.resolve(copy.corpus.path or "").resolve() == (tmp_path / "data" / "docs")
    assert copy.dataset.path == "../../data/d.jsonl"  # still relative: the project folder can move as a whole
    home = yaml.safe_load(text) | {"dataset": {"path": "~/d.jsonl"}}
    assert ExperimentSpec.from_dict(home, base_dir=tmp_path / "exp")._rebased(tmp_path).dataset.path == "~/d.jsonl"


def test_names_shaped_like_a_number_with_an_exponent_are_saved_so_they_read_back(tmp_path: Path) -> None:
    # PyYAML wrote the experiment name 2e5 and the prompt name 1e3 bare (YAML 1.1 text), which the loader reads as YAML
    # 1.2 does, as numbers: the GridBuilder's saved file was refused ("name: expected text, got a number")
    spec = ExperimentSpec.from_dict({"name": "2e5", "prompts": [{"name": "1e3", "template": "{context} {question}"}],
                                     "models": [{"id": "local:gemma3-270m"}], "chunkers": [{"strategy": "recursive"}],
                                     "corpus": {"builtin": "python-reference"}, "dataset": {"path": "d.jsonl"}}, base_dir=tmp_path)
    copy = load_experiment(spec.save(tmp_path / "copy.yaml"))
    assert (copy.name, copy.prompts[0].name) == ("2e5", "1e3")
    assert read_yaml(spec.to_yaml())[1]["name"] == "2e5"  # the experiment.yaml a sweep logs


def test_a_spec_saved_in_a_project_with_the_schema_names_it_for_editors(tmp_path: Path) -> None:
    # saved from a notebook (the GridBuilder), the file lost the modeline the shipped experiments start with: no checks
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "experiments").mkdir()
    (project / "experiments" / "experiment.schema.json").write_text("{}", encoding="utf-8")
    spec = load_experiment(write(tmp_path, GOOD))
    for where, line in (("experiments/x.yaml", "./experiment.schema.json"), ("experiments/sub/x.yaml", "../experiment.schema.json"),
                        ("x.yaml", "./experiments/experiment.schema.json"), ("notebooks/x.yaml", "../experiments/experiment.schema.json")):
        saved = spec.save(project / where)
        assert saved.read_text(encoding="utf-8").splitlines()[0] == f"# yaml-language-server: $schema={line}", where
        assert expand_grid(load_experiment(saved)) == expand_grid(spec)
    (project / "experiments" / "experiment.schema.json").unlink()
    assert spec.save(project / "experiments" / "x.yaml").read_text(encoding="utf-8").startswith("name: t\n")  # no schema: no line


def test_shipped_experiments_load_and_schema_file_is_current() -> None:
    import json

    for path in (ROOT / "experiments").glob("*.yaml"):
        load_experiment(path)
    committed = json.loads((ROOT / "experiments" / "experiment.schema.json").read_text())
    assert committed == experiment_json_schema(), "run: workbench schema -o experiments/experiment.schema.json"


def test_what_the_spec_reads_the_json_schema_accepts() -> None:
    # the schema refused `judge: local:gemma3-270m`, the README's own shorthand: editors marked it as an error
    import jsonschema

    validator = jsonschema.Draft202012Validator(experiment_json_schema())
    for path in (ROOT / "experiments").glob("*.yaml"):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
    for judge in ("local:gemma3-270m", {"id": "local:gemma3-270m", "n": 3}):
        data = yaml.safe_load(GOOD) | {"judge": judge}
        ExperimentSpec.from_dict(data)
        assert not [e.message for e in validator.iter_errors(data)]
    assert list(validator.iter_errors(yaml.safe_load(GOOD) | {"judge": 3}))


def test_every_field_of_the_json_schema_says_what_it_is() -> None:
    # an editor shows a field's description on hover and in completion: model ids, k, size, temperature... had none
    schema = experiment_json_schema()
    bare = [f"{name}.{field}" for name, model in [("ExperimentSpec", schema), *schema["$defs"].items()]
            for field, prop in model.get("properties", {}).items() if not prop.get("description")]
    assert not bare


@pytest.mark.parametrize(("field", "value"), [
    ("models", [{"id": "gpt-4o-mini"}]), ("models", [{"id": "opnai:gpt-4o-mini"}]), ("judge", "OpenAI:gpt-4o-mini"),
    ("retrieval", [{"embedding": "all-minilm-l6-v2"}]), ("retrieval", [{"embedding": "llamacpp:m.gguf"}]),
    ("execution", {"concurrency": {"opnai": 4}}), ("execution", {"concurrency": {"openai": 0}}),
    ("execution", {"concurrency": {"openai": 513}}),
    ("execution", {"concurrency": {"openai": True}}),  # was read as 1 call in flight
])
def test_a_model_string_or_concurrency_the_loader_refuses_the_json_schema_refuses_too(tmp_path: Path, field: str, value: object) -> None:
    # the schema took any text as a model and any provider and number in concurrency: editors passed what a run refused
    import jsonschema

    data = yaml.safe_load(GOOD) | {field: value}
    with pytest.raises(SpecError):
        ExperimentSpec.from_dict(data, base_dir=tmp_path)
    assert list(jsonschema.Draft202012Validator(experiment_json_schema()).iter_errors(data))
    good = {"models": [{"id": "openai:gpt-4o-mini"}], "judge": "openai:gpt-4o-mini", "retrieval": [{"embedding": "openai:text-embedding-3-small"}],
            "execution": {"concurrency": {"openai": 512}}}[field]
    assert not list(jsonschema.Draft202012Validator(experiment_json_schema()).iter_errors(yaml.safe_load(GOOD) | {field: good}))
    ExperimentSpec.from_dict(yaml.safe_load(GOOD) | {field: good}, base_dir=tmp_path)


def test_prompt_file_is_read_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("Q: {question}\nC: {context}\nA:")
    spec = load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))
    assert spec.prompts[0].template == "Q: {question}\nC: {context}\nA:"



def test_from_dict_reads_a_prompt_file_relative_to_its_base_dir(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.txt").write_text("Q: {question}\nC: {context}\nA:")
    data = yaml.safe_load(GOOD)
    data["prompts"] = [{"name": "a", "file": "prompts/p.txt"}]
    spec = ExperimentSpec.from_dict(data, base_dir=tmp_path)
    assert spec.prompts[0].template == "Q: {question}\nC: {context}\nA:"
    assert spec.prompts[0].file is None
    data["prompts"] = [{"name": "a", "file": "prompts/none.txt"}]
    with pytest.raises(SpecError, match=r"^<spec>: prompts\[0\].file: prompts/none.txt not found"):
        ExperimentSpec.from_dict(data, base_dir=tmp_path)


def test_from_dict_given_a_path_or_a_file_read_without_its_folder_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a path was "spec: expected a mapping, got the text '...' — write its fields as 'key: value' lines under it"
    for path in ("experiments/x.yaml", Path("experiments/x.yaml")):
        with pytest.raises(SpecError, match=r"^<spec>: from_dict takes the experiment's fields as a dict, not the path 'experiments/x.yaml' — "
                                            r"read a file with wb.load_experiment\(path\)$"):
            ExperimentSpec.from_dict(path)  # type: ignore[arg-type]
    # yaml.safe_load of experiments/x.yaml, given without its folder: its prompt files are looked for in the working directory
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load(GOOD) | {"prompts": [{"name": "a", "file": "prompts/p.txt"}]}
    with pytest.raises(SpecError, match=r"^<spec>: prompts\[0\].file: prompts/p.txt not found — check the path \(relative paths are from "
                                        r"the working directory .*: pass base_dir=<the folder they are relative to>\)$"):
        ExperimentSpec.from_dict(data)


def test_a_prompt_file_is_read_however_the_spec_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ExperimentSpec(...) in a notebook, or `template:` left empty beside `file:`, kept the file unread: the sweep built
    # its indexes, then ended in "internal error: missing variable {question}"
    from workbench.spec import PromptSpec

    (tmp_path / "p.txt").write_text("Q: {question}\nC: {context}\nA:")
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load(GOOD)
    spec = load_experiment(write(tmp_path, GOOD.replace('template: "Context: {context}\\nQuestion: {question}\\nAnswer:"',
                                                        "file: p.txt\n    template:")))
    built = [spec, ExperimentSpec(**{**data, "prompts": [{"name": "a", "file": "p.txt"}]}),
             ExperimentSpec.model_validate({**data, "prompts": [PromptSpec(name="a", file="p.txt")]}),
             ExperimentSpec.from_dict({**data, "prompts": [{"name": "a", "file": "p.txt", "template": None}]})]
    assert [s.prompts[0].template for s in built] == ["Q: {question}\nC: {context}\nA:"] * 4
    assert all(s.prompts[0].file is None for s in built)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    overlap: 40", "    overlap: 400", r"exp.yaml:1[3-6]: chunkers\[0\]: overlap 400 must be smaller than size 400"),
        ("local:gemma3-270m", "foo:bar", r"exp.yaml:10: models\[0\].id: unknown model provider 'foo'"),
        ("local:gemma3-270m", "local:gpt5", r"exp.yaml:10: models\[0\].id: unknown local generator 'local:gpt5'"),
        ("local:gemma3-270m", "gemma", r"exp.yaml:10: models\[0\].id: model 'gemma' is not a 'provider:model' string"),
        # LiteLLM's and OpenRouter's spelling: was "is not a 'provider:model' string — e.g. 'local:gemma3-270m' or ...", the fix unsaid
        ("local:gemma3-270m", "openai/gpt-4o", r"exp.yaml:10: models\[0\].id: model 'openai/gpt-4o' is not a 'provider:model' string — "
         r"did you mean 'openai:gpt-4o'\?$"),
        ("local:gemma3-270m", "anthropic/claude-3-5-haiku-latest", r"exp.yaml:10: models\[0\].id: .* did you mean 'anthropic:claude-3-5-haiku-latest'\?$"),
        ("local:gemma3-270m", "meta-llama/Llama-3.2-1B", r"exp.yaml:10: models\[0\].id: model 'meta-llama/Llama-3.2-1B' is not a 'provider:model' "
         r"string — e.g. 'local:gemma3-270m' or 'openai:gpt-4o-mini'$"),
        # was pydantic's "Input should be 'recursive', 'token', 'markdown' or 'sentence'", nothing said of the typo
        ("strategy: recursive", "strategy: recursiv", r"exp.yaml:14: chunkers\[0\].strategy: 'recursiv' is not one of 'recursive', 'token', "
         r"'markdown' or 'sentence' — did you mean 'recursive'\?$"),
        ("strategy: recursive", "strategy: Token", r"exp.yaml:14: chunkers\[0\].strategy: 'Token' is not one of .* — did you mean 'token'\?$"),
        ("strategy: recursive", "strategy: semantic", r"exp.yaml:14: chunkers\[0\].strategy: 'semantic' is not one of .* — use one of them$"),
        ("builtin: python-reference", "builtin: python-docs",
         r"exp.yaml:5: corpus.builtin: 'python-docs' is not 'python-reference' — use it$"),
        ("      max_tokens: 32", "      max_tokens: -1", r"exp.yaml:12: models\[0\].params.max_tokens:"),
        ("      max_tokens: 32", "      max_tokns: 3", r"exp.yaml:12: models\[0\].params.max_tokns: unknown field"),
        ("name: t\n", "", r"exp.yaml:\d+: name: required field is missing"),
        # a misspelt required field was reported as the right one missing, never naming what was written
        ("  - id: local:gemma3-270m", "  - idd: local:gemma3-270m", r"exp.yaml:10: models\[0\].idd: unknown field — did you mean 'id'\?"),
        ("name: t\n", "nme: t\n", r"exp.yaml:1: nme: unknown field — did you mean 'name'\?"),
        ("  - strategy: recursive", "  - strategy: recursive\n    sise: 400", r"exp.yaml:1[4-6]: chunkers\[0\].sise: unknown field — did you mean 'size'\?"),
        # an empty stop string is found at once: every answer was '' (llama.cpp) and scored as a wrong answer
        ("      max_tokens: 32", "      max_tokens: 32\n      stop: ['\\n\\n', '']",
         r"exp.yaml:13: models\[0\].params.stop: stop\[1\] is empty: the model would stop before its first word, so every "
         r"answer would be '' — remove it"),
        # the written placeholder is named, not 'missing variable {question}', which the user saw written as {Question}
        ("{question}", "{query}", r"exp.yaml:8: prompts\[0\].template: unknown variable \{query\} — write \{question\} \(templates may use only \{question\} and \{context\}\)"),
        ("{question}", "{Question}", r"exp.yaml:8: prompts\[0\].template: placeholder \{Question\} is not \{question\}: placeholder names are "
         r"lower-case — write \{question\}$"),
        ("{context}", "{CONTEXT}", r"exp.yaml:8: prompts\[0\].template: placeholder \{CONTEXT\} is not \{context\}"),
        ("{question}", "{question.upper}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question.upper\} reads an attribute or item"),
        # a JSON example was said to 'read an attribute or item' of a placeholder called {'answer'}
        ("{question}", "{question} Reply as {'answer': 1}",
         r"exp.yaml:8: prompts\[0\].template: \{'answer': 1\} is not a placeholder — write its braces doubled: \{\{'answer': 1\}\}"),
        # a positional placeholder ("{1}\nQ: {0}".format(question, context)) was told to double its braces: the text '{0}'
        ("{question}", "{question} {0}", r"exp.yaml:8: prompts\[0\].template: \{0\} is a positional placeholder, which a template does not fill — "
         r"write \{question\} or \{context\} where a value goes, or \{\{0\}\} for the text '\{0\}'$"),
        ("{context}", "{}", r"exp.yaml:8: prompts\[0\].template: \{\} is a positional placeholder, .* or \{\{\}\} for the text '\{\}'$"),
        # accepted, they failed every question of the sweep, after its indexes were built and its runs logged
        ("{question}", "{question:d}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question:d\} cannot be filled in with text"),
        ("{question}", "{question!x}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question!x\} cannot be filled in with text"),
        # the retrieved text was cut to its first 500 characters, silently: hit@k counted chunks the model never read
        ("{context}", "{context:.500}", r"exp.yaml:8: prompts\[0\].template: placeholder \{context:\.500\} cuts the context short, and the model "
         r"never reads the rest — write \{context\} and retrieve less to shorten the prompt \(the retrieval's k, the chunker's size\)"),
        ("{question}", "{question:^.20}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question:\^\.20\} cuts the question short"),
        ("{question}", "{question:>{context}}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question:>\{context\}\} has a placeholder in its format"),
        # a width pads every prompt with filling the model reads: a colleague's {question:>2000000000} had the check
        # itself build a text of 2 GB (the kernel killed), and a width of millions made every prompt that long
        ("{question}", "{question:>2000000000}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question:>2000000000\} pads the question "
         r"to 2,000,000,000 characters with filling the model reads .* — write \{question\}"),
        # the check built a text one character longer than the precision keeps: 2 GB for this one
        ("{question}", "{question:.2000000000}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question:\.2000000000\} cuts the question short"),
        ("{context}", "{context!r:*^50}", r"exp.yaml:8: prompts\[0\].template: placeholder \{context!r:\*\^50\} pads the context to 50 characters"),
        # the system message is sent as written: the model read the text '{context}'
        ('    template: "', '    system: "Answer from {context} only."\n    template: "',
         r"exp.yaml:7: prompts\[0\]: .*system: \{context\} is not filled in in the system message, only in the template"),
        # spaced, doubled (Jinja's) or capitalised, it was accepted and sent as written: the model read '{ context }'
        ('    template: "', '    system: "Answer from { context } only."\n    template: "',
         r"exp.yaml:7: prompts\[0\]: .*system: \{ context \} is not filled in in the system message, only in the template — move it"),
        ('    template: "', '    system: "Answer {{ question }} from the context."\n    template: "',
         r"exp.yaml:7: prompts\[0\]: .*system: \{\{ question \}\} is not filled in in the system message"),
        ('    template: "', '    system: "Answer from {Context} only."\n    template: "',
         r"exp.yaml:7: prompts\[0\]: .*system: \{Context\} is not filled in in the system message"),
        ("{question}", "{ question }", r"exp.yaml:8: prompts\[0\].template: placeholder \{ question \} has spaces inside its braces — write \{question\}"),
        # Jinja's and promptfoo's {{context}} is a literal brace pair here: the model read the text '{context}' in every
        # question, never the retrieved chunks, and the sweep ran; a lone {{question}} was 'missing variable {question}'
        ("{context}", "{{context}}", r"exp.yaml:8: prompts\[0\].template: \{\{context\}\} is the text '\{context\}', not the context: doubled "
         r"braces \(Jinja's, promptfoo's\) write one literal brace here, so the model would read it as written — write \{context\}"),
        ("{context}", "{{ context | trim }}", r"exp.yaml:8: prompts\[0\].template: \{\{ context \| trim \}\} is the text '\{ context \| trim \}'"),
        ("{context}\\nQuestion: {question}", "{{ context }}\\nQuestion: {{ question }}",
         r"exp.yaml:8: prompts\[0\].template: \{\{ context \}\} is the text '\{ context \}', not the context"),
        # Python's repr of the text: the chunks reached the model as one quoted line with '\n' written in it
        ("{context}", "{context!r}", r"exp.yaml:8: prompts\[0\].template: placeholder \{context!r\} writes the context as a Python literal "
         r"\(quoted, its line breaks and special characters as escapes such as \\n\), which the model reads as written — write \{context\}"),
        ("{question}", "{question!a}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question!a\} writes the question as a Python literal "
         r"\(quoted, its line breaks and non-ASCII letters as escapes"),
        # a Jinja tag (promptfoo, LangChain's jinja2 prompts) was told to double its braces, which sent the Jinja to the
        # model as written, or was a 'malformed placeholder (expected ':' after conversion specifier)'
        ("{context}", "{% for doc in context %}{{ doc }}{% endfor %}", r"exp.yaml:8: prompts\[0\].template: \{% for doc in context %\} is Jinja, "
         r"which a template does not run \(it is Python format text\) — write \{context\} where the retrieved chunks go and \{question\} "
         r"where the question goes$"),
        ("Context: ", "{% if lang != 'en' %}Answer in English.{% endif %} Context: ", r"exp.yaml:8: prompts\[0\].template: \{% if lang != 'en' %\} is Jinja"),
        # an invisible character pasted inside the braces (a web page's zero-width space, a soft hyphen) was told to
        # double the braces, which made the placeholder the text the model reads
        ("{context}", "{\\u200bcontext}", r"exp.yaml:8: prompts\[0\].template: placeholder \{context\} holds an invisible character \(U\+200B, "
         r"pasted with the template\) — type it again as \{context\}$"),
        ("{question}", "{ques\\u00adtion}", r"exp.yaml:8: prompts\[0\].template: placeholder \{question\} holds an invisible character \(U\+00AD"),
        # braces typed with a Chinese or Japanese input method: the model read the text '｛context｝', never the context
        ("{context}", "\uff5bcontext\uff5d", r"exp.yaml:8: prompts\[0\].template: \uff5bcontext\uff5d is written with full-width braces, so it is text, "
         r"not a placeholder .* — write \{context\}"),
        ("  builtin: python-reference", "  builtin: python-reference\n  path: x", r"corpus: .*exactly one of 'builtin' or 'path'"),
        # the glob was ignored: every topic of the built-in corpus was read
        ("  builtin: python-reference", "  builtin: python-reference\n  glob: 'assert*'",
         r"exp.yaml:4: corpus: glob picks files of a corpus folder; the built-in 'python-reference' corpus has none — remove glob"),
        ("  builtin: python-reference", "  builtin: python-reference\n  exclude: ['*.png']",
         r"exp.yaml:4: corpus: exclude leaves files of a corpus folder out; the built-in 'python-reference' corpus has none — remove exclude"),
        # one bad pattern of several is named by its place in the list
        ("  builtin: python-reference", "  path: kb\n  exclude: ['drafts/**', '../shared/*.md']",
         r"exp.yaml:6: corpus.exclude\[1\]: '../shared/\*.md' is not a pattern inside the corpus folder — give one relative to it, e.g. "
         r"'drafts/\*\*' or 'faq/empty.md'$"),
        ("  builtin: python-reference", "  path: kb\n  exclude: '*.png'", r"exp.yaml:6: corpus.exclude: expected a list, got the text '\*.png'"),
        ("  builtin: python-reference", '  path: ""', r"exp.yaml:\d: corpus.path: the path is empty — give a file or folder"),
        ("  path: d.jsonl", "  path: ' '", r"exp.yaml:\d: dataset.path: the path is empty — give a file or folder"),
        # llama.cpp read -1 (0xFFFFFFFF) as 'a random seed': other answers on every call, cached as the seed's; and the
        # sweep's comparison refused a negative seed after every variant had run
        # a list of 23 scorer names was all a typo or a short name was told
        ("name: t\n", "name: t\nscorers: [token_f1, blue]\n", r"exp.yaml:2: scorers: unknown scorer 'blue' — did you mean 'bleu'\? \(known scorers: "),
        ("name: t\n", "name: t\nscorers: [f1]\n", r"exp.yaml:2: scorers: unknown scorer 'f1' — did you mean 'token_f1'\? \(known scorers: "),
        ("name: t\n", "name: t\nscorers: [rouge]\n", r"exp.yaml:2: scorers: unknown scorer 'rouge' — did you mean 'rouge_l'\? \(known scorers: "),
        ("name: t\n", "name: t\nscorers: [accuracy]\n", r"exp.yaml:2: scorers: unknown scorer 'accuracy' — known scorers: answer_relevancy, "),
        # pydantic's "Input should be greater than or equal to 1", "String should have at least 1 character": what to write?
        ("  path: d.jsonl", "  path: d.jsonl\n  limit: 0", r"exp.yaml:4: dataset.limit: 0 is below 1, the least it may be — give 1 or more$"),
        ("    overlap: 40\n", "    overlap: 40\nretrieval:\n  - k: 0\n", r"exp.yaml:18: retrieval\[0\].k: 0 is below 1, the least it may be — give 1 or more$"),
        ("name: t\n", "name: ''\n", r"exp.yaml:1: name: empty text — write a value$"),
        # pydantic's "String should have at most 100 characters": of which value, and what to do?
        ("  - name: a\n", "  - name: " + "grounded-" * 15 + "\n", r"exp.yaml:7: prompts\[0\].name: 'grounded-grounded-.*…' is 135 characters, "
         r"over the 100 it may hold — shorten it$"),
        ("      max_tokens: 32", "      max_tokens: 32\n      temperature: -0.5",
         r"exp.yaml:13: models\[0\].params.temperature: -0.5 is below 0, the least it may be — give 0 or more$"),
        ("name: t\n", "name: t\nseed: -1\n", r"exp.yaml:2: seed: -1 is below 0, the least it may be — give 0 or more$"),
        ("name: t\n", "name: t\nseed: 4294967295\n", r"exp.yaml:2: seed: 4294967295 is over 2147483647, the most it may be — give 2147483647 or less$"),
        # setrlimit overflowed in the worker: a FAILED run saying 'Python int too large to convert to C long'
        ("name: t\n", "name: t\nlimits: {memory_mb: 1000000000000000}\n", r"exp.yaml:2: limits.memory_mb: 1000000000000000 is over \d+, the most it may be — give \d+ or less$"),
        # a lock file per slot: the first hosted call of 10**20 slots would never finish naming them, 2,000 run out of open files
        ("name: t\n", "name: t\nexecution: {concurrency: {openai: 100000000000000000000}}\n",
         r"exp.yaml:2: execution.concurrency: .*concurrency for 'openai' is 100000000000000000000, over 512 — each call in flight"),
    ],
)
def test_bad_fields_get_one_line_with_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(SpecError, match=expected) as info:
        load_experiment(write(tmp_path, GOOD.replace(old, new)))
    assert "\n" not in str(info.value)


def test_a_token_chunker_given_only_its_size_overlaps_by_the_token_default(tmp_path: Path) -> None:
    # {strategy: token, size: 100} overlapped by the characters' default, 80 tokens of each 100-token chunk
    spec = load_experiment(write(tmp_path, GOOD.replace("    size: 400\n    overlap: 40\n", "    size: 100\n").replace("recursive", "token")))
    assert (spec.chunkers[0].size, spec.chunkers[0].overlap) == (100, 20)
    # a default overlap that does not fit a small size was "overlap 80 must be smaller than size 50 — lower the overlap"
    with pytest.raises(SpecError, match=r"exp.yaml:1[3-5]: chunkers\[0\]: overlap 80 \(the default\) must be smaller than size 50 — "
                                        r"give an overlap, e.g. overlap: 5$"):
        load_experiment(write(tmp_path, GOOD.replace("    size: 400\n    overlap: 40\n", "    size: 50\n")))
    # saved and read back: a token chunker of 800/80 (an embedding model that reads 8191 tokens) came back as 200/20
    text = GOOD.replace("    size: 400\n    overlap: 40\n", "    size: 800\n    overlap: 80\n").replace("recursive", "token") + \
        "retrieval:\n  - embedding: openai:text-embedding-3-small\n"
    spec = load_experiment(write(tmp_path, text))
    assert load_experiment(spec.save(tmp_path / "copy.yaml")).chunkers == spec.chunkers


@pytest.mark.parametrize("retrieval", ["", "retrieval:\n  - {k: 2}\n  - {k: 3, embedding: local:all-minilm-l6-v2}\n"])
def test_a_token_chunker_longer_than_minilm_reads_is_one_line_at_load(tmp_path: Path, retrieval: str) -> None:
    # MiniLM embeds the first 254 tokens of a text: a longer token chunk's tail could never be retrieved
    chunkers = "  - strategy: recursive\n    size: 400\n    overlap: 40\n  - {strategy: token, size: 255, overlap: 16}\n"
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: retrieval: chunkers\[1\] cuts chunks of up to 255 tokens, .* "
                                        r"local:all-minilm-l6-v2 reads only the first 254 tokens .* size to 254 or less") as info:
        load_experiment(write(tmp_path, GOOD.replace("  - strategy: recursive\n    size: 400\n    overlap: 40\n", chunkers) + retrieval))
    assert "\n" not in str(info.value)
    # a token chunker's default size is 200 tokens (overlap 20), not the character chunkers' 800, which MiniLM cuts
    default = load_experiment(write(tmp_path, GOOD.replace("strategy: recursive", "strategy: token").replace("    size: 400\n    overlap: 40\n", "")))
    assert (default.chunkers[0].size, default.chunkers[0].overlap) == (200, 20)
    fits = load_experiment(write(tmp_path, GOOD.replace("strategy: recursive\n    size: 400", "strategy: token\n    size: 254") + retrieval))
    assert fits.chunkers[0].size == 254


@pytest.mark.parametrize(("body", "expected"), [
    ("Answer briefly.\nContext: {context}\nQuestion: {question:d}\n", r"p.txt:3: prompts\[0\].file: placeholder \{question:d\} cannot"),
    ("Context: {context}\n\nQuestion: {question} }\n", r"p.txt:3: prompts\[0\].file: malformed placeholder"),
    ("Context: {contxt}\nQuestion: {question}\n", r"p.txt:1: prompts\[0\].file: unknown variable \{contxt\}"),
    ("Context: {context}\n", r"p.txt: prompts\[0\].file: missing variable \{question\}"),
    ("Context: {context}\nQuestion: {Question}\n", r"p.txt:2: prompts\[0\].file: placeholder \{Question\} is not \{question\}"),
    ("Answer briefly.\n{# the grader reads this #}\nContext: {context}\nQuestion: {question}\n", r"p.txt:2: prompts\[0\].file: \{# the grader "
     r"reads this #\} is Jinja"),
    # a JSON example pretty-printed over lines was quoted whole in the error, twice: an error of a dozen lines
    ('Context: {context}\nQuestion: {question}\nReply as:\n{\n  "answer": "...",\n  "sources": ["..."]\n}\n',
     r'p.txt:4: prompts\[0\].file: \{ "answer": "...", "sources": \["..."\] \} is not a placeholder — write its braces doubled: '
     r'\{\{ "answer": "...", "sources": \["..."\] \}\}$'),
    ('Context: {context}\nQuestion: {question}\nReply as:\n{\n  "answer": "' + "x" * 200 + '"\n}\n',
     r'p.txt:4: prompts\[0\].file: \{ "answer": "x{45}…\} is not a placeholder'),
    # a form feed or a U+2028 (pasted from a web page or a JSON export) is no line end to an editor: it was counted as one
    ("Answer briefly.\x0c\u2028Be kind.\nContext: {contxt}\nQuestion: {question}\n", r"p.txt:2: prompts\[0\].file: unknown variable \{contxt\}"),
    ("Answer briefly.\nContext: {{context}}\nQuestion: {question}\n", r"p.txt:2: prompts\[0\].file: \{\{context\}\} is the text '\{context\}'"),
    ("Answer briefly.\nContext: {context}\nQuestion: {question!r}\n", r"p.txt:3: prompts\[0\].file: placeholder \{question!r\} writes"),
    # the error named one placeholder at the line of another: the alphabetically first unknown one ({audience}) at the line
    # of the first bad one ({zone}), and a doubled-brace {{context}} at the line of an unknown variable above it
    ("Reply in {zone}.\nContext: {context}\nQuestion: {question}\nFor {audience}.\n", r"p.txt:1: prompts\[0\].file: unknown variable \{zone\}"),
    ("Answer from {sources}.\nContext: {{context}}\nQuestion: {question}\n", r"p.txt:2: prompts\[0\].file: \{\{context\}\} is the text"),
])
def test_a_bad_placeholder_in_a_prompt_file_is_named_at_its_line_in_that_file(tmp_path: Path, body: str, expected: str) -> None:
    # the error named the experiment file's 'file:' line, not the prompt file nor where in it the placeholder is
    (tmp_path / "p.txt").write_text(body, encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path))}/{expected}") as info:
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))
    assert "\n" not in str(info.value)


def test_not_yaml_and_missing_prompt_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: not valid YAML"):
        load_experiment(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(SpecError, match=r"prompts\[0\].file: nope.txt not found"):
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: nope.txt")))


def test_a_prompt_file_that_is_a_folder_or_no_regular_file_says_so(tmp_path: Path) -> None:
    # both were "not found — check the path", of a path that is there
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "grounded.txt").write_text("{context}\n{question}", encoding="utf-8")
    text = GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: prompts")
    with pytest.raises(SpecError, match=r"exp.yaml:8: prompts\[0\].file: prompts is a folder, not a file — give the template's file "
                                        r"\(it holds grounded.txt\)$"):
        load_experiment(write(tmp_path, text))
    with pytest.raises(SpecError, match=r"exp.yaml:8: prompts\[0\].file: /dev/null is not a regular file — give a text file holding the template$"):
        load_experiment(write(tmp_path, text.replace("file: prompts", "file: /dev/null")))


@pytest.mark.parametrize(("text", "expected"), [
    # a prompt written unquoted: "not valid YAML (mapping values are not allowed here)", nothing said of its "Question: "
    ("prompts:\n  - name: p\n    template: Context: {context} Question: {question}\n",
     r":3: not valid YAML \(mapping values are not allowed here\) — a ': ' inside a value starts a mapping: put the value in quotes"),
    ("prompts:\n  - name: p\n    template: {context} {question}\n",
     r":3: not valid YAML \(expected <block end>, but found '\{'\) — a value starting with '\{' is a YAML mapping: put the value in quotes"),
    ("name: x\nlimits:\n\twall_time_s: 3\n", r":3: not valid YAML \(found character '\\t' that cannot start any token\) — indent with spaces, not tabs$"),
    ("name: x\n---\nname: y\n", r":2: not valid YAML \(but found another document\) — an experiment file holds one YAML document: "),
    ("name: x\nchunkers: [{strategy: recursive}\n", r":3: not valid YAML \(.*'<stream end>'\) — a quote or bracket is not closed$"),
    ("name: x\nchunkers:\n  - strategy: recursive\n   size: 3\n", r":4: not valid YAML \(.*\) — check the syntax at that line \(indentation"),
])
def test_a_yaml_syntax_error_says_what_to_do(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecError, match=r"exp.yaml" + expected):
        load_experiment(write(tmp_path, text))


def test_a_file_that_is_not_utf8_is_one_line_naming_it_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_bytes(GOOD.replace("name: t", "name: caf\xe9").encode("latin-1"))
    with pytest.raises(SpecError, match=r"exp.yaml:1: experiment file is not UTF-8 text \(byte 0xe9\) — save it as UTF-8") as info:
        load_experiment(path)
    assert "\n" not in str(info.value)
    (tmp_path / "p.txt").write_bytes("line one\nQ: {question} \u2014 {context}\n".encode("cp1252"))
    with pytest.raises(SpecError, match=r"p.txt:2: prompts\[0\].file is not UTF-8 text \(byte 0x97\)"):
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))


def test_an_empty_prompt_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path))}/p.txt: prompts\[0\].file: the template is empty — write the prompt"):
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))


@pytest.mark.parametrize(("body", "expected"), [
    # PowerShell's '>' and Out-File write UTF-16: 'not UTF-8 text (byte 0xff)' said nothing of what the file is
    ("Context: {context}\nQuestion: {question}\n".encode("utf-16"),
     r"p.txt:1: prompts\[0\].file is UTF-16 text \(byte-order mark 0xfffe\), not UTF-8 — save it as UTF-8$"),
    # without a byte-order mark every other byte is a NUL: the error quoted '{\x00c\x00o\x00n...' as a placeholder
    ("Context: {context}\nQuestion: {question}\n".encode("utf-16-le"),
     r"p.txt:1: prompts\[0\].file: holds a NUL character \(\\u0000\), which a database cannot store \(a UTF-16 or binary file read "
     r"as text holds many\) — remove it, or save the file as UTF-8 text$"),
    # a NUL in a UTF-8 file was accepted, where the dataset and corpus refuse it
    (b"Context: {context}\nQuestion: {question}\x00\n", r"p.txt:2: prompts\[0\].file: holds a NUL character"),
])
def test_a_prompt_file_that_is_utf16_or_holds_a_nul_says_so(tmp_path: Path, body: bytes, expected: str) -> None:
    (tmp_path / "p.txt").write_bytes(body)
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path))}/{expected}") as info:
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))
    assert "\n" not in str(info.value)


def test_a_prompt_file_in_a_hidden_folder_outside_the_project_is_refused_unread(tmp_path: Path) -> None:
    # an experiment from someone else's branch, run in CI, named file: ~/.docker/config.json (or a prompt file that is a
    # link to it): its braces were no placeholders, and the error quoted the registry token twice into the job's log
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    token = "Z2hwX0FCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla"
    (home / ".docker" / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "' + token + '"}}}', encoding="utf-8")
    project = tmp_path / "project"
    (project / "prompts").mkdir(parents=True)
    (project / "prompts" / "p.txt").symlink_to(home / ".docker" / "config.json")
    for named, link in (("../home/.docker/config.json", ""), ("prompts/p.txt", f"a link to {home / '.docker' / 'config.json'}, ")):
        with pytest.raises(SpecError, match=rf"exp.yaml:8: prompts\[0\].file: {re.escape(named)} is {re.escape(link)}in a hidden folder or file outside the experiment's folder \(keys and settings live there\) — "
                                            r"copy the template into the project") as info:
            load_experiment(write(project, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', f"    file: {named}")))
        assert token[:8] not in str(info.value)
    (project / "prompts" / "env.txt").symlink_to("/proc/self/environ")  # the process's keys
    with pytest.raises(SpecError, match=r"exp.yaml:8: prompts\[0\].file: prompts/env.txt is a link to /proc/\d+/environ, in the system folder "
                                        r"/proc, which holds no prompt — copy the template into the project$"):
        load_experiment(write(project, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: prompts/env.txt")))
    # the project's own hidden folder holds prompts as any other
    (project / ".prompts").mkdir()
    (project / ".prompts" / "p.txt").write_text("Context: {context}\nQuestion: {question}\n", encoding="utf-8")
    spec = load_experiment(write(project, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: .prompts/p.txt")))
    assert spec.prompts[0].template == "Context: {context}\nQuestion: {question}\n"


def test_duplicate_prompt_names_rejected(tmp_path: Path) -> None:
    doubled = GOOD.replace("models:", '  - name: a\n    template: "{question}"\nmodels:')
    with pytest.raises(SpecError, match="prompt name 'a' is used twice"):
        load_experiment(write(tmp_path, doubled))


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("name: t\n", "name: ..\n", r"exp.yaml:1: name: '\.\.' is not a usable name \(it is a path to another folder\)"),
    ("name: t\n", "name: " + "e" * 101 + "\n", r"exp.yaml:1: name: .* is 101 characters, over the 100 it may hold — shorten it$"),
    ("  - name: a\n", "  - name: " + "p" * 101 + "\n", r"exp.yaml:7: prompts\[0\].name: .* is 101 characters, over the 100 it may hold — shorten it$"),
    # names a Windows or macOS checkout of a deployment repository (a bundle's prompts/CON.txt) cannot hold
    ("  - name: a\n", "  - name: CON\n", r"exp.yaml:7: prompts\[0\].name: 'CON' names a device on Windows \(as CON, PRN, AUX, NUL, "
     r"COM0-9 and LPT0-9 do, with any extension, in any case\): no file or folder can have it there — rename it$"),
    ("  - name: a\n", "  - name: lpt1.v2\n", r"exp.yaml:7: prompts\[0\].name: 'lpt1.v2' names a device on Windows"),
    ("name: t\n", "name: aux\n", r"exp.yaml:1: name: 'aux' names a device on Windows"),
    ("name: t\n", "name: draft.\n", r"exp.yaml:1: name: 'draft.' ends in a dot, which Windows drops from a file or folder name, so "
     r"it names another one there — rename it$"),
    ("models:", '  - name: A\n    template: "{question} {context}!"\nmodels:',
     r"exp.yaml:6: prompts: prompt names 'a' and 'A' differ only in case: their files \(prompts/<name>.txt in a bundle\) are one "
     r"file on macOS and Windows — rename one$"),
])
def test_names_that_cannot_name_a_folder_or_a_run_are_refused(tmp_path: Path, old: str, new: str, expected: str) -> None:
    # an experiment's name is its artifact folder (".." would put it beside the others, 300 characters is too long for
    # a file name, Windows drops a last dot) and a prompt's name is part of every variant's run name and its bundle's
    # file: a deployment repository holding prompts/CON.txt could not be checked out on Windows
    with pytest.raises(SpecError, match=expected):
        load_experiment(write(tmp_path, GOOD.replace(old, new)))


def test_names_that_only_look_like_windows_devices_are_names_as_any_other(tmp_path: Path) -> None:
    for name in ("console", "com10", "aux_v2", "v1.2", "nul-prompt"):
        assert load_experiment(write(tmp_path, GOOD.replace("  - name: a\n", f"  - name: {name}\n"))).prompts[0].name == name


@pytest.mark.parametrize("levels", [500, 100_000])
def test_lists_nested_hundreds_of_levels_deep_are_one_line(tmp_path: Path, levels: int) -> None:
    # PyYAML's composer recursed until RecursionError: 'internal error ... report it' from workbench run
    text = GOOD.replace("name: t\n", "name: t\ndescription: " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(SpecError, match=r"exp.yaml: not valid YAML \(lists or mappings nested hundreds of levels deep — write"):
        load_experiment(write(tmp_path, text))


def test_a_key_given_twice_is_refused_not_silently_overridden(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"exp.yaml:17: 'name' is given twice in one mapping \(also on line 1\) — keep one"):
        load_experiment(write(tmp_path, GOOD + "name: other\n"))  # the sweep went to 'other'
    nested = GOOD.replace("    size: 400\n", "    size: 400\n    size: 300\n")
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: 'size' is given twice in one mapping"):
        load_experiment(write(tmp_path, nested))


def test_aliases_that_expand_to_a_huge_document_are_refused_at_once(tmp_path: Path) -> None:
    # "billion laughs": nine levels of ten aliases; walking the expanded data took minutes at 100% CPU
    lines = ["x-anchors:", "  a0: &a0 [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: this value expands to more than 100000 values through YAML aliases"):
        load_experiment(write(tmp_path, GOOD + "\n".join(lines) + "\n"))
    # a few aliases are fine (an anchor reused for two chunkers, say)
    shared = GOOD.replace("  - strategy: recursive\n", "  - &rec\n    strategy: recursive\n") + "  - *rec\n"
    assert load_experiment(write(tmp_path, shared)).chunkers[0].size == 400


def test_an_experiment_file_of_many_megabytes_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # PyYAML reads about half a megabyte a second: a 100 MB file held 'workbench run' for minutes before any error
    huge = GOOD + "description: |\n" + ("  " + "x" * 98 + "\n") * 12_000  # 1.2 MB
    with pytest.raises(SpecError, match=r"exp\.yaml: 1\.2 MB, too large for an experiment file \(at most 1 MB\) — an experiment "
                                        r"names its dataset, corpus and prompt files"):
        load_experiment(write(tmp_path, huge))
    assert load_experiment(write(tmp_path, GOOD + "description: |\n" + ("  " + "x" * 98 + "\n") * 1_000)).description


def test_a_relative_gguf_path_is_relative_to_the_experiment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace("  - id: local:gemma3-270m\n", "  - id: llamacpp:models/m.gguf\n") + "pricing:\n  llamacpp:models/m.gguf: {input: 1, output: 2}\n"
    path = write(tmp_path, text)
    monkeypatch.chdir("/")  # run from another folder, as `workbench run ../exp.yaml` does
    spec = load_experiment(path)
    assert spec.models[0].id == f"llamacpp:{tmp_path / 'models' / 'm.gguf'}"
    assert spec.price(spec.models[0].id) is not None  # its price entry moved with it
    assert spec.models[0].short_name == "m"
    # from a notebook, with the folder its paths are relative to: the model was looked for in the working directory
    built = ExperimentSpec.from_dict(yaml.safe_load(text), base_dir=tmp_path)
    assert built.models[0].id == spec.models[0].id and built.price(built.models[0].id) is not None


def test_a_relative_gguf_path_is_saved_relative_so_the_file_runs_in_another_clone(tmp_path: Path) -> None:
    text = GOOD.replace("  - id: local:gemma3-270m\n", "  - id: llamacpp:models/m.gguf\n  - id: llamacpp:/opt/shared.gguf\n")
    text += "pricing:\n  llamacpp:models/m.gguf: {input: 1, output: 2}\n"
    spec = load_experiment(write(tmp_path, text))
    saved = yaml.safe_load(spec.save(tmp_path / "sub" / "copy.yaml").read_text())
    # the copy named /home/alice/project/models/m.gguf, which is nowhere in bob's clone of the project
    assert [m["id"] for m in saved["models"]] == ["llamacpp:../models/m.gguf", "llamacpp:/opt/shared.gguf"]
    assert list(saved["pricing"]) == ["llamacpp:../models/m.gguf"]
    clone = tmp_path.parent / (tmp_path.name + "-clone")  # the whole project copied elsewhere
    shutil.copytree(tmp_path, clone)
    moved = load_experiment(clone / "sub" / "copy.yaml")
    assert moved.models[0].id == f"llamacpp:{clone / 'models' / 'm.gguf'}" and moved.price(moved.models[0].id) is not None
    # and again, saved from a notebook's spec built with the folder its paths are relative to
    built = ExperimentSpec.from_dict(yaml.safe_load(text), base_dir=tmp_path)
    assert yaml.safe_load(built.save(tmp_path / "again.yaml").read_text())["models"][0]["id"] == "llamacpp:models/m.gguf"
    # the experiment.yaml each sweep logs holds it as the file does, not as /home/alice/project/models/m.gguf
    assert [m["id"] for m in yaml.safe_load(spec.to_yaml())["models"]] == ["llamacpp:models/m.gguf", "llamacpp:/opt/shared.gguf"]
    assert expand_grid(ExperimentSpec.from_dict(yaml.safe_load(spec.to_yaml()), base_dir=tmp_path)) == expand_grid(spec)
    # the sweep's workbench.spec_hash tag is the same for both clones (it held /home/alice/... before)
    assert ExperimentSpec.from_dict(yaml.safe_load(text), base_dir=clone).hash == built.hash
    assert ExperimentSpec.from_dict(yaml.safe_load(text.replace("models/m.gguf", "models/m2.gguf")), base_dir=clone).hash != built.hash


def test_a_relative_gguf_path_of_a_spec_built_in_python_is_saved_relative_to_the_saved_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # built without a base_dir (relative to the working directory, like its dataset), the model was saved as written
    # into experiments/x.yaml, which then named experiments/models/m.gguf: another file, or none
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.gguf").write_bytes(b"GGUF")
    data = yaml.safe_load(GOOD.replace("local:gemma3-270m", "llamacpp:models/m.gguf")) | {
        "pricing": {"llamacpp:models/m.gguf": {"input": 1, "output": 2}}}
    built = ExperimentSpec.from_dict(data)
    saved = built.save(tmp_path / "experiments" / "x.yaml")
    written = yaml.safe_load(saved.read_text())
    assert (written["models"][0]["id"], list(written["pricing"])) == ("llamacpp:../models/m.gguf", ["llamacpp:../models/m.gguf"])
    loaded = load_experiment(saved)
    assert loaded.models[0].id == f"llamacpp:{tmp_path / 'models' / 'm.gguf'}" and loaded.price(loaded.models[0].id) is not None
    assert ExperimentSpec.from_dict(built.to_dict(tmp_path / "experiments"), base_dir=tmp_path / "experiments").models == loaded.models
    # its variant ids hold the model as written, unchanged by the fix
    assert built.to_dict()["models"][0]["id"] == "llamacpp:models/m.gguf" and expand_grid(built)[0].written == ()


def test_two_model_entries_that_would_share_a_variant_name_need_a_name(tmp_path: Path) -> None:
    hot = "  - id: local:gemma3-270m\n    params:\n      temperature: 0.7\n"
    with pytest.raises(SpecError, match=r"models\[0\] and models\[1\] would both be named 'gemma3-270m' in variant names — give one of them a name:"):
        load_experiment(write(tmp_path, GOOD.replace("chunkers:", hot + "chunkers:")))
    spec = load_experiment(write(tmp_path, GOOD.replace("chunkers:", hot + "    name: gemma-hot\nchunkers:")))
    assert [m.short_name for m in spec.models] == ["gemma3-270m", "gemma-hot"]
    assert "name" not in spec.models[0].model_dump()  # no name given: the dump (and so every variant id) is unchanged


def test_two_retrieval_entries_that_would_share_a_variant_name_need_a_name(tmp_path: Path) -> None:
    # two mmr_lambda (or two embedding models) at one k were two variants named alike: the leaderboard showed two
    # 'recursive-400/40|k3-mmr' rows, and the sweep's retrieval curves drew only the first of them
    mmr = "retrieval:\n  - {k: 3, search: mmr, mmr_lambda: 0.2}\n  - {k: 3, search: mmr, mmr_lambda: 0.8%s}\n"
    with pytest.raises(SpecError, match=r"retrieval\[0\] and retrieval\[1\] would both be named 'k3-mmr' in variant names — "
                                        r"give one of them a name: \(e.g. name: k3-mmr-2\)"):
        load_experiment(write(tmp_path, GOOD + mmr % ""))
    spec = load_experiment(write(tmp_path, GOOD + mmr % ", name: k3-mmr-diverse"))
    assert [v.name.split("|")[-1] for v in expand_grid(spec)] == ["k3-mmr", "k3-mmr-diverse"]
    assert "name" not in spec.retrieval[0].model_dump()  # no name given: the dump (and so every variant id) is unchanged
    twice = load_experiment(write(tmp_path, GOOD + "retrieval:\n  - {k: 3}\n  - {k: 3}\n"))  # one setting, written twice
    assert len(expand_grid(twice)) == 1


@pytest.mark.parametrize(("axis", "expected"), [
    ('prompts:\n  - {name: a, template: "{context} {question}"}\n  - {name: b, template: "{context} {question}"}\n',
     r"exp.yaml:\d+: prompts: prompts\[0\] and prompts\[1\] \('a' and 'b'\) are the same template and system message under two "
     r"names: their variants would get the same answers — remove one, or change its text"),
    ("models:\n  - {id: local:gemma3-270m, name: g}\n  - {id: local:gemma3-270m, name: gemma, kind: completion}\n",
     r"exp.yaml:\d+: models: models\[0\] and models\[1\] are the same model with the same settings under two names: their "
     r"variants would give the same answers — remove one, or change what it should differ in \(params, kind\)"),
    ("retrieval:\n  - {k: 3, name: three}\n  - {k: 3, name: top3, fetch_k: 9}\n",
     r"exp.yaml:\d+: retrieval: retrieval\[0\] and retrieval\[1\] are the same retrieval setting under two names: their variants "
     r"would retrieve the same chunks — remove one, or change what it should differ in \(k, search, embedding\)"),
])
def test_one_entry_under_two_names_is_refused(tmp_path: Path, axis: str, expected: str) -> None:
    # a copy-pasted entry renamed but not changed ran as a second variant of the very same results, which every
    # comparison then called "no difference" (and racing could never stop)
    axis_name = axis.split(":")[0]
    text = {"prompts": GOOD.replace(GOOD[GOOD.index("prompts:"):GOOD.index("models:")], axis),
            "models": GOOD.replace(GOOD[GOOD.index("models:"):GOOD.index("chunkers:")], axis),
            "retrieval": GOOD + axis}[axis_name]
    with pytest.raises(SpecError, match=expected):
        load_experiment(write(tmp_path, text))
    if axis_name != "prompts":  # written alike (prompt names are unique) they are one variant, as before
        alike = re.sub(r"name: \w+", "name: a", text).replace(", kind: completion", "").replace(", fetch_k: 9", "")
        assert len(expand_grid(load_experiment(write(tmp_path, alike)))) == 1


def test_a_byte_order_mark_is_not_part_of_a_prompt_file(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_bytes("\ufeffContext: {context}\nQuestion: {question}\n".encode("utf-8"))
    spec = load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', "    file: p.txt")))
    assert spec.prompts[0].template == "Context: {context}\nQuestion: {question}\n"  # the model never sees U+FEFF


@pytest.mark.parametrize("ends", ["\r\n", "\r"])
def test_a_prompt_given_with_windows_line_ends_is_the_prompt_read_from_a_file(tmp_path: Path, ends: str) -> None:
    # a template pasted from a Windows file into from_dict kept its \r: another prompt hash than the same file read by
    # the experiment (so no reuse between them), and its bundle's prompt file, read back with \n, no longer matched
    # the promoted prompt's sha256: load_bundle refused the bundle as 'prompt differs from the promoted one'
    text = "Context: {context}\nQuestion: {question}\nAnswer:"
    (tmp_path / "p.txt").write_bytes(text.replace("\n", ends).encode("utf-8"))
    from_file = load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"',
                                                             '    file: p.txt\n    system: "Be brief.\\nUse the context."')))
    data = yaml.safe_load(GOOD)
    data["prompts"][0] |= {"template": text.replace("\n", ends), "system": "Be brief." + ends + "Use the context."}
    inline = ExperimentSpec.from_dict(data, base_dir=tmp_path)
    assert (inline.prompts[0].template, inline.prompts[0].system) == (text, "Be brief.\nUse the context.")
    assert [v.id for v in expand_grid(inline)] == [v.id for v in expand_grid(from_file)]
    assert prompt_hash(inline.prompts[0]) == prompt_hash(from_file.prompts[0])


def test_a_prompt_given_with_a_files_byte_order_mark_is_the_prompt_read_from_that_file(tmp_path: Path) -> None:
    # open(path).read() of a file Notepad saved keeps its U+FEFF, which reached the model as an invisible first character
    # (and made another prompt hash than the experiment reading the same file)
    data = yaml.safe_load(GOOD)
    data["prompts"][0] |= {"template": "\ufeffContext: {context}\nQuestion: {question}\n", "system": "\ufeffBe brief."}
    prompt = ExperimentSpec.from_dict(data, base_dir=tmp_path).prompts[0]
    assert (prompt.template, prompt.system) == ("Context: {context}\nQuestion: {question}\n", "Be brief.")


def test_a_system_message_given_as_the_file_holding_it_is_refused_at_its_line(tmp_path: Path) -> None:
    # 'system: prompts/system.txt', as a template's 'file:' is written: the model was sent the path as its system message
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.txt").write_text("Answer briefly.\n", encoding="utf-8")
    text = GOOD.replace('    template: "', '    system: prompts/system.txt\n    template: "')
    with pytest.raises(SpecError, match=r"exp.yaml:8: prompts\[0\].system: prompts/system.txt is a file, but a system message is sent as "
                                        r"written, so the model would read its path — write the message itself \(system: \|, then its lines "
                                        r"indented below\)$"):
        load_experiment(write(tmp_path, text))
    data = yaml.safe_load(text)
    with pytest.raises(SpecError, match=r"^<spec>: prompts\[0\].system: prompts/system.txt is a file"):
        ExperimentSpec.from_dict(data, base_dir=tmp_path)
    # a message that is no file's name is sent as written
    assert load_experiment(write(tmp_path, text.replace("prompts/system.txt", "prompts/system.txt holds the rules"))).prompts[0].system


@pytest.mark.parametrize(("name", "body", "holds"), [
    # a YAML prompt of promptfoo's or one's own shape: no brace of its own, so it was accepted and sent whole, keys
    # and all, as every question's prompt
    ("p.yaml", "template: |\n  Context: {context}\n  Question: {question}\n", r"a saved prompt \(a mapping with 'template'\)"),
    # LangChain's prompt.save(): its JSON was 'not a placeholder — write its braces doubled' quoting the whole file
    ("p.json", json.dumps({"input_variables": ["context", "question"], "template": "{context}\n{question}", "_type": "prompt"}, indent=4),
     r"a saved prompt \(a mapping with 'template'\)"),
    ("p.json", json.dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{context}\n{question}"}]),
     "a list of chat messages"),
])
def test_a_saved_prompt_given_as_a_prompt_file_is_named_as_such(tmp_path: Path, name: str, body: str, holds: str) -> None:
    (tmp_path / name).write_text(body, encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path))}/{name}: prompts\[0\].file: holds {holds}, not a template's text, and "
                                        r"the model would read all of it — give its template as template:, or a text file holding only the "
                                        r"template$"):
        load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', f"    file: {name}")))
    # a template's text that reads as YAML too is the template
    (tmp_path / name).write_text("Context: {context}\nQuestion: {question}\nAnswer:", encoding="utf-8")
    spec = load_experiment(write(tmp_path, GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"', f"    file: {name}")))
    assert spec.prompts[0].template == "Context: {context}\nQuestion: {question}\nAnswer:"


def test_a_pricing_key_must_be_a_model_string(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: pricing: 'gpt4o' is not a model string: model 'gpt4o' is not a 'provider:model' string"):
        load_experiment(write(tmp_path, GOOD + "pricing:\n  gpt4o: {input: 1, output: 2}\n"))  # its cost stayed unknown
    assert load_experiment(write(tmp_path, GOOD + "pricing:\n  local:gemma3-270m: {input: 1, output: 2}\n")).pricing


def test_a_price_can_say_what_input_read_from_the_prompt_cache_costs(tmp_path: Path) -> None:
    from workbench.models import Price

    priced = load_experiment(write(tmp_path, GOOD + "pricing:\n  local:gemma3-270m: {input: 1, output: 2, cached_input: 0.25}\n"))
    assert priced.price("local:gemma3-270m") == Price(1.0, 2.0, 0.25)
    assert load_experiment(write(tmp_path, GOOD + "pricing:\n  local:gemma3-270m: {input: 1, output: 2}\n")).price("local:gemma3-270m") == Price(1.0, 2.0)
    with pytest.raises(SpecError, match=r"pricing.local:gemma3-270m.cached_input: -1 is below 0, the least it may be — give 0 or more$"):
        load_experiment(write(tmp_path, GOOD + "pricing:\n  local:gemma3-270m: {input: 1, output: 2, cached_input: -1}\n"))


def test_a_pricing_key_that_misspells_a_model_of_the_grid_is_refused(tmp_path: Path) -> None:
    grid = GOOD.replace("  - id: local:gemma3-270m\n", "  - id: local:gemma3-270m\n  - id: openai:gpt-4o-mini\n")
    typo = grid + "pricing:\n  openai:gpt4o-mini: {input: 1, output: 2}\n"  # gpt-4o-mini kept its built-in price
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: pricing: 'openai:gpt4o-mini' prices no model of this experiment; "
                       r"did you mean 'openai:gpt-4o-mini'\? — write the model string exactly as in 'models:' or 'judge:'"):
        load_experiment(write(tmp_path, typo))
    judged = grid + "judge: openai:gpt-4o\npricing:\n  openai:gpt4o: {input: 3, output: 4}\n"
    with pytest.raises(SpecError, match=r"did you mean 'openai:gpt-4o'\?"):
        load_experiment(write(tmp_path, judged))
    # a key that differs only in case priced nothing: gpt-4o-mini kept the built-in $0.15, not the $7 written for it
    with pytest.raises(SpecError, match=r"'openai:GPT-4o-mini' prices no model of this experiment; did you mean 'openai:gpt-4o-mini'\?"):
        load_experiment(write(tmp_path, grid + "pricing:\n  openai:GPT-4o-mini: {input: 7, output: 9}\n"))
    # a price for a model the grid does not use (a shared table, a model switched off) or one priced already is kept
    shared = grid + "pricing:\n  openai:gpt-4o-mini: {input: 1, output: 2}\n  openai:gpt-4o-mini-2024: {input: 1, output: 2}\n"
    assert load_experiment(write(tmp_path, shared)).price("openai:gpt-4o-mini").input_per_m == 1  # type: ignore[union-attr]
    assert load_experiment(write(tmp_path, grid + "pricing:\n  anthropic:claude-x: {input: 1, output: 2}\n")).pricing


def test_a_kind_the_model_cannot_be_served_as_is_refused_when_the_spec_is_read(tmp_path: Path) -> None:
    # it used to load, build the indexes, then fail every variant of that model
    hosted = GOOD.replace("  - id: local:gemma3-270m\n", "  - id: openai:gpt-4o-mini\n    kind: completion\n")
    with pytest.raises(SpecError, match=r"exp.yaml:10: models\[0\]: model 'openai:gpt-4o-mini': hosted providers are served as chat "
                                        r"models; set kind: chat or leave kind out$"):
        load_experiment(write(tmp_path, hosted))
    with pytest.raises(SpecError, match=r"exp.yaml:10: models\[0\]: model 'local:gemma3-270m' is a completion model; it cannot be run as "
                                        r"'chat' — set kind: completion or leave kind out$"):
        load_experiment(write(tmp_path, GOOD.replace("  - id: local:gemma3-270m\n", "  - id: local:gemma3-270m\n    kind: chat\n")))
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: judge: model 'openai:gpt-4o-mini': hosted providers are served as chat models"):
        load_experiment(write(tmp_path, GOOD + "judge: {id: openai:gpt-4o-mini, kind: completion}\n"))
    assert load_experiment(write(tmp_path, GOOD + "judge: {id: openai:gpt-4o-mini, kind: chat}\n")).judge is not None


def test_a_gate_threshold_given_as_yes_or_no_is_refused(tmp_path: Path) -> None:
    for gate, field in (("{kind: metric, metric: token_f1, min: yes}", "min"), ("{kind: min_questions, n: true}", "n")):
        with pytest.raises(SpecError, match=rf"exp.yaml:\d+: promotion.gates\[0\](\.\w+)?: {field}: true is a yes/no value — give a number"):
            load_experiment(write(tmp_path, GOOD + f"promotion:\n  gates:\n    - {gate}\n"))


def test_a_gate_bound_on_a_score_written_as_a_percentage_is_refused(tmp_path: Path) -> None:
    # 'min: 30' for 30% on token_f1 (0 to 1): no run could pass, found at promotion after the sweep
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: promotion.gates\[0\]: token_f1 lies between 0 and 1, so 30 reads as a "
                                        r"percentage — write it as a fraction, 0.3$"):
        load_experiment(write(tmp_path, GOOD + "promotion:\n  gates:\n    - {kind: metric, metric: token_f1, min: 30}\n"))
    # a metric of another scale (a latency, a custom scorer's) keeps its bound
    assert load_experiment(write(tmp_path, GOOD + "promotion:\n  gates:\n    - {kind: metric, metric: latency_p95_s, max: 30}\n")).promotion


@pytest.mark.parametrize(("gate", "expected"), [
    # pydantic's "Unable to extract tag using discriminator 'kind'", while the schema let the editor pass the gate
    ("- metric: token_f1\n      min: 0.3", r"exp.yaml:19: promotion.gates\[0\]: 'kind' is missing — add kind: metric$"),
    ("- n: 20", r"exp.yaml:19: promotion.gates\[0\]: 'kind' is missing — add kind: min_questions$"),
    ("- metric: token_f1", r"exp.yaml:19: promotion.gates\[0\]: 'kind' is missing — add kind: one of metric, min_questions, "),
    ("- metric: token_f1\n      kind: metrics\n      min: 0.3",
     r"exp.yaml:20: promotion.gates\[0\].kind: 'metrics' is not a gate kind — did you mean 'metric'\? \(the kinds: metric, "),
    # the kind is pydantic's tag in the error's location, not a key of the file (promotion.gates[0].max_cost_per_answer.usd)
    ("- kind: max_cost_per_answer\n      usd: -1", r"exp.yaml:20: promotion.gates\[0\].usd: -1 is below 0, the least it may be — give 0 or more$"),
])
def test_a_gate_without_a_usable_kind_is_one_line_and_the_schema_requires_it(tmp_path: Path, gate: str, expected: str) -> None:
    import jsonschema

    text = GOOD + f"promotion:\n  gates:\n    {gate}\n"
    with pytest.raises(SpecError, match=expected):
        load_experiment(write(tmp_path, text))
    assert list(jsonschema.Draft202012Validator(experiment_json_schema()).iter_errors(yaml.safe_load(text)))



@pytest.mark.parametrize(
    "axis, axes, line",
    [
        ("chunkers", "chunkers: []\nretrieval:\n  - k: 3\n", 13),
        ("retrieval", "chunkers:\n  - strategy: recursive\nretrieval: []\n", 15),
    ],
)
def test_an_empty_grid_axis_is_refused_in_one_line(tmp_path: Path, axis: str, axes: str, line: int) -> None:
    # retrieval: [] used to load, expand to no variants and log an empty FINISHED sweep
    text = GOOD[: GOOD.index("chunkers:")] + axes
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, text))
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}:{line}: {axis}: the list is empty, so the grid would have no variants — give at least one entry"
    with pytest.raises(SpecError, match=rf"^<spec>: {axis}: the list is empty"):
        ExperimentSpec.from_dict(yaml.safe_load(text))


@pytest.mark.parametrize(
    "text, where",
    [
        (GOOD + "retrieval:\n  - {k: yes}\n", "retrieval[0]: k: true"),
        (GOOD.replace("  path: d.jsonl\n", "  path: d.jsonl\n  limit: on\n"), "dataset: limit: true"),
        (GOOD + "limits: {wall_time_s: no}\n", "limits: wall_time_s: false"),
        (GOOD + "execution: {workers: true}\n", "execution: workers: true"),
    ],
)
def test_a_number_given_as_yes_or_no_is_refused_anywhere_in_the_spec(tmp_path: Path, text: str, where: str) -> None:
    # pydantic took `k: yes` as k=1 and `limit: on` as limit=1: a sweep over one retrieved chunk or one question
    with pytest.raises(SpecError, match=rf"exp.yaml:\d+: {re.escape(where)} is a yes/no value — give a number$"):
        load_experiment(write(tmp_path, text))
    params = yaml.safe_load(GOOD)
    params["models"][0]["params"]["temperature"] = False
    with pytest.raises(SpecError, match=r"^<spec>: models\[0\]\.params: temperature: false is a yes/no value — give a number$"):
        ExperimentSpec.from_dict(params)


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOOD.replace("models:\n  - id: local:gemma3-270m\n    params:\n      max_tokens: 32\n", "models: local:gemma3-270m\n"),
         "9: models: expected a list, got the text 'local:gemma3-270m' — write one '- item' per line, or [a, b] (even for one item)"),
        (GOOD + "retrieval:\n", "17: retrieval: expected a list, got nothing (an empty value) — write one '- item' per line, or [a, b] (even for one item)"),
        (GOOD.replace("dataset:\n  path: d.jsonl\n", "dataset: d.jsonl\n"),
         "2: dataset: expected a mapping, got the text 'd.jsonl' — write it as {path: d.jsonl}"),
        # an entry written as its main value alone was told to "write its fields as 'key: value' lines", not which one
        (GOOD.replace("  - id: local:gemma3-270m\n    params:\n      max_tokens: 32\n", "  - local:gemma3-270m\n"),
         "10: models[0]: expected a mapping, got the text 'local:gemma3-270m' — write it as {id: local:gemma3-270m}"),
        (GOOD.replace("  - strategy: recursive\n    size: 400\n    overlap: 40\n", "  - recursive\n"),
         "14: chunkers[0]: expected a mapping, got the text 'recursive' — write it as {strategy: recursive}"),
        (GOOD + "retrieval: [local:all-minilm-l6-v2]\n",
         "17: retrieval[0]: expected a mapping, got the text 'local:all-minilm-l6-v2' — write it as {embedding: local:all-minilm-l6-v2}"),
        (GOOD.replace("corpus:\n  builtin: python-reference\n", "corpus: python-reference\n"),
         "4: corpus: expected a mapping, got the text 'python-reference' — write it as {builtin: python-reference}"),
        (GOOD + "pricing: [1, 2]\n", "17: pricing: expected a mapping, got a list — write its fields as 'key: value' lines under it"),
        (GOOD.replace("name: t\n", "name: 2024\n"), "1: name: expected text, got a number — write it as one string, in quotes"),
        # pydantic's "Keys should be strings", located at execution[1] (a list's second entry) for YAML's `on:` key
        (GOOD + "execution:\n  workers: 2\n  on: 3\n", "19: execution: a key here is a yes/no value, not a field's name — YAML "
         "reads on, off, yes and no as yes/no values: write the key in quotes, or remove it"),
        (GOOD + "1: 3\n", "17: spec: a key here is a number, not a field's name — a field's name is text: write the key in quotes, "
         "or remove it"),
    ],
)
def test_a_value_of_the_wrong_shape_is_named_in_yaml_words(tmp_path: Path, text: str, expected: str) -> None:
    # these were pydantic's 'Input should be a valid tuple' / 'a valid dictionary or instance of DatasetRef'
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, text))
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}:{expected}"


def test_a_number_with_an_exponent_is_read_as_a_number_as_editors_read_it(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) wants 2.0e+5: `max_tokens: 2e5`, which an editor's schema check (YAML 1.2) passed, was the text
    # '2e5' and refused with "Input should be a valid integer, unable to parse string as an integer"
    text = GOOD + "limits: {max_tokens: 2e5, memory_mb: 4E3}\nretrieval: [{k: 1.5e1}]\npricing: {openai:gpt-4o: {input: 1e-1, output: 2.5e-1}}\n"
    spec = load_experiment(write(tmp_path, text))
    assert (spec.limits.max_tokens, spec.limits.memory_mb, spec.retrieval[0].k) == (200_000, 4000, 15)
    assert (spec.pricing["openai:gpt-4o"].input, spec.pricing["openai:gpt-4o"].output) == (0.1, 0.25)
    with pytest.raises(SpecError, match=r"exp.yaml:17: limits.max_tokens: Input should be a valid integer, got a number with a fractional part"):
        load_experiment(write(tmp_path, GOOD + "limits: {max_tokens: 2.5e-1}\n"))
    assert load_experiment(write(tmp_path, GOOD.replace("name: t", "name: '1e3'"))).name == "1e3"  # quoted, it is text


@pytest.mark.parametrize(("written", "said"), [
    ("    size: 400 chars\n", "chunkers[0].size: '400 chars' is text, not a whole number — write a whole number without quotes or units"),
    ("    size: 12.5%\n", "chunkers[0].size: '12.5%' is text, not a whole number — write a whole number without quotes or units"),
])
def test_text_where_a_number_belongs_says_what_to_write(tmp_path: Path, written: str, said: str) -> None:
    # was pydantic's "Input should be a valid integer, unable to parse string as an integer", the value not shown
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, GOOD.replace("    size: 400\n", written)))
    assert str(info.value).split(": ", 1)[1] == said


def test_a_share_written_as_a_percentage_is_told_its_fraction(tmp_path: Path) -> None:
    gates = "promotion:\n  gates:\n    - {kind: max_failed_rate, scorer: faithfulness, rate: 5%}\n"
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, GOOD + gates))
    assert str(info.value).endswith("promotion.gates[0].rate: '5%' is a percentage — write it as a fraction, 0.05")


def test_a_number_with_leading_zeros_is_decimal_as_editors_read_it(tmp_path: Path) -> None:
    # YAML 1.1 read `seed: 0123` as octal: seed 83, silently, where the editor (YAML 1.2) and the reader saw 123
    spec = load_experiment(write(tmp_path, GOOD.replace("    size: 400\n", "    size: 0400\n") + "seed: 0123\n"))
    assert (spec.seed, spec.chunkers[0].size) == (123, 400)
    assert load_experiment(write(tmp_path, GOOD + "seed: 0x1F\n")).seed == 31  # other notations as before


def test_a_name_with_spaces_or_accents_says_which_characters_are_allowed_and_offers_one(tmp_path: Path) -> None:
    # was pydantic's "String should match pattern '^[A-Za-z0-9_.-]+$'"
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, GOOD.replace("name: t\n", "name: RAG eval (v2)\n")))
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}:1: name: 'RAG eval (v2)' may hold only the letters A-Z and a-z, digits, '_', '-' and '.' — e.g. 'RAG-eval-v2'"
    with pytest.raises(SpecError, match=r"prompts\[0\]\.name: 'grounded ünïcode' may hold only the letters A-Z and a-z, digits, '_', '-' and '.' — e.g. 'grounded-unicode'$"):
        load_experiment(write(tmp_path, GOOD.replace("  - name: a\n", "  - name: grounded ünïcode\n")))
    # letters with no ASCII form (休暇) are left out
    with pytest.raises(SpecError, match=r"name: 'Política de viaje 休暇' may hold .* — e.g. 'Politica-de-viaje'$"):
        load_experiment(write(tmp_path, GOOD.replace("name: t\n", "name: Política de viaje 休暇\n")))


def test_a_prompt_file_under_home_is_found_like_the_dataset_and_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "prompts").mkdir(parents=True)
    (tmp_path / "home" / "prompts" / "g.txt").write_text("{context}\n{question}", encoding="utf-8")
    text = GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"\n', "    file: ~/prompts/g.txt\n")
    assert load_experiment(write(tmp_path, text)).prompts[0].template == "{context}\n{question}"  # was 'not found'
    with pytest.raises(SpecError, match=r"exp.yaml:8: prompts\[0\]\.file: \$PROMPTS/g.txt not found — write the path out: '\$PROMPTS' is not expanded"):
        load_experiment(write(tmp_path, text.replace("~/prompts", "$PROMPTS")))


def test_paths_given_as_pathlib_paths_from_python_are_taken_like_strings(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("{context}\n{question}", encoding="utf-8")
    data = yaml.safe_load(GOOD)
    data["dataset"] = {"path": tmp_path / "d.jsonl"}  # was "dataset.path: expected text, got PosixPath"
    data["corpus"] = {"path": tmp_path / "docs"}
    data["prompts"] = [{"name": "a", "file": Path("g.txt")}]
    spec = ExperimentSpec.from_dict(data, base_dir=tmp_path)
    assert (spec.dataset.path, spec.corpus.path) == (str(tmp_path / "d.jsonl"), str(tmp_path / "docs"))
    assert spec.prompts[0].template == "{context}\n{question}"
    assert spec.hash == ExperimentSpec.from_dict(yaml.safe_load(spec.to_yaml()), base_dir=tmp_path).hash


def test_load_experiment_on_a_folder_or_a_variable_path_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"^.+: is a folder, not a file — give the path of the experiment file$"):
        load_experiment(tmp_path)  # was 'experiment file not found'
    with pytest.raises(SpecError, match=r"exp.yaml: experiment file not found — write the path out: '\$EXP' is not expanded"):
        load_experiment("$EXP/exp.yaml")
    with pytest.raises(SpecError, match=r"nope.yaml: experiment file not found — check the path$"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize("address", ["http://127.0.0.1:8265", "head.example.internal", "ray://head:port", "ray://head:10001/x", "head:0"])
def test_an_execution_address_that_is_not_a_ray_address_is_refused_at_load(tmp_path: Path, address: str) -> None:
    # was accepted, and the sweep then waited on Ray (minutes for host:port forms) before a multi-line ValueError
    text = GOOD + f"execution: {{backend: ray, address: '{address}'}}\n"
    with pytest.raises(SpecError, match=rf"exp.yaml:\d+: execution.address: '{re.escape(address)}' is not a Ray address — use auto"):
        load_experiment(write(tmp_path, text))


@pytest.mark.parametrize("address, endpoint", [("auto", None), ("local", None), ("ray://head:10001", ("head", 10001)),
                                               ("10.0.0.5:6379", ("10.0.0.5", 6379)), ("ray://[::1]:10001", ("::1", 10001))])
def test_a_ray_address_names_the_host_and_port_to_reach(tmp_path: Path, address: str, endpoint: object) -> None:
    spec = load_experiment(write(tmp_path, GOOD + f"execution: {{backend: ray, address: '{address}'}}\n"))
    assert spec.execution.ray_endpoint() == endpoint


@pytest.mark.parametrize("provider, hint", [("opnai", "did you mean 'openai'? — "), ("OpenAI", "did you mean 'openai'? — "),
                                            ("local", ""), ("openai:gpt-4o", "did you mean 'openai'? — ")])
def test_a_concurrency_limit_for_no_hosted_provider_is_refused(tmp_path: Path, provider: str, hint: str) -> None:
    # was accepted: the limit applied to nothing and the provider meant ran `workers` calls at once (429s)
    text = GOOD + f"execution: {{workers: 8, concurrency: {{'{provider}': 2}}}}\n"
    with pytest.raises(SpecError, match=rf"exp.yaml:\d+: execution.concurrency: '{re.escape(provider)}' is not a hosted model "
                                        rf"provider; {re.escape(hint)}limits are per provider, the part before ':' in a model string: "
                                        r"anthropic, .*openai"):
        load_experiment(write(tmp_path, text))
    assert load_experiment(write(tmp_path, GOOD + "execution: {concurrency: {openai: 2}}\n")).execution.provider_limit("openai") == 2


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("execution: {worker: 2}\n", "execution.worker: unknown field — did you mean 'workers'?"),
        ("execution: {racing: {metrc: token_f1}}\n", "execution.racing.metrc: unknown field — did you mean 'metric'?"),
        ("retrival: [{k: 2}]\n", "retrival: unknown field — did you mean 'retrieval'?"),
        ("limits: {wall_time: 9}\n", "limits.wall_time: unknown field — did you mean 'wall_time_s'?"),
        ('pricing: {"local:gemma3-270m": {input: 0, output: 0, ouptut: 0}}\n',
         "pricing.local:gemma3-270m.ouptut: unknown field — did you mean 'output'?"),
        ("zzz: 1\n", "zzz: unknown field — check its spelling"),
    ],
)
def test_a_misspelt_field_is_answered_with_the_field_meant(tmp_path: Path, extra: str, expected: str) -> None:
    """Through nested sections, lists and mappings keyed by model: the field of that very section it most likely means."""
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, GOOD + extra))
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}:{GOOD.count(chr(10)) + 1}: {expected} (see the JSON schema: workbench schema)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # spelt right, a level too high: "check its spelling" for temperature, "did you mean 'scorers'?" for workers
        (GOOD.replace("    params:\n      max_tokens: 32\n", "    temperature: 0.2\n"),
         "11: models[0].temperature: unknown field — 'temperature' is no field here: it goes under params, e.g. params: {temperature: 0.2}"),
        (GOOD + "workers: 4\n", "17: workers: unknown field — 'workers' is no field here: it goes under execution, e.g. execution: {workers: 4}"),
        (GOOD + "racing: {metric: token_f1}\n",
         "17: racing: unknown field — 'racing' is no field here: it goes under execution, e.g. execution: {racing: {metric: token_f1}}"),
        (GOOD + "embedding: openai:text-embedding-3-small\n", "17: embedding: unknown field — 'embedding' is no field here: it goes under "
         "retrieval, e.g. retrieval: [{embedding: openai:text-embedding-3-small}]"),
        # a field only one part of the file has, written in another
        (GOOD.replace("    overlap: 40\n", "    overlap: 40\n    k: 3\n"),
         "17: chunkers[0].k: unknown field — 'k' is no field here: it goes under retrieval, e.g. retrieval: [{k: 3}]"),
    ],
)
def test_a_field_written_in_the_wrong_section_says_where_it_goes(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        load_experiment(write(tmp_path, text))
    assert str(info.value) == f"{tmp_path / 'exp.yaml'}:{expected}"


def test_a_misspelt_field_of_a_list_entry_is_answered_with_the_field_meant(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"exp.yaml:15: chunkers\[0\].sise: unknown field — did you mean 'size'\?"):
        load_experiment(write(tmp_path, GOOD.replace("    size: 400", "    sise: 400")))
    with pytest.raises(SpecError, match=r"models\[0\].params.max_tokns: unknown field — did you mean 'max_tokens'\?"):
        load_experiment(write(tmp_path, GOOD.replace("      max_tokens: 32", "      max_tokns: 32")))


def test_top_level_x_keys_hold_yaml_anchors_that_entries_merge(tmp_path: Path) -> None:
    # Docker Compose's way to share settings: `x-defaults: &gemma {...}`, then `<<: *gemma` in each entry; the
    # anchor's home was refused as "x-defaults: unknown field — check its spelling"
    import jsonschema

    text = GOOD.replace("models:\n  - id: local:gemma3-270m\n    params:\n      max_tokens: 32\n",
                        "x-defaults:\n  gemma: &gemma {id: local:gemma3-270m, params: {max_tokens: 32}}\n"
                        "models:\n  - *gemma\n  - <<: *gemma\n    name: gemma-warm\n    params: {max_tokens: 32, temperature: 0.5}\n")
    assert "x-defaults" in text
    spec = load_experiment(write(tmp_path, text))
    assert [(m.short_name, m.params.temperature) for m in spec.models] == [("gemma3-270m", 0.0), ("gemma-warm", 0.5)]
    assert expand_grid(spec)[0].id == expand_grid(load_experiment(write(tmp_path, GOOD)))[0].id  # what is read is what counts
    assert not list(jsonschema.Draft202012Validator(experiment_json_schema()).iter_errors(yaml.safe_load(text)))
    with pytest.raises(SpecError, match=r"exp.yaml:\d+: defaults: unknown field"):  # only x- keys are left out
        load_experiment(write(tmp_path, text.replace("x-defaults:", "defaults:")))


@pytest.mark.parametrize(("entry", "expected"), [
    # k: 20 with MMR's default fetch_k (20): MMR kept every candidate, the chunks a similarity search finds, only
    # reordered, so the variant was named mmr and retrieved no more diversely than similarity
    ("{k: 20, search: mmr}", r"exp.yaml:18: retrieval\[0\]: fetch_k 20 \(the default\) must be more than k 20 for mmr: MMR picks k of the "
                             r"fetch_k closest chunks, so with no more of them than k it keeps them all, the chunks a similarity search "
                             r"finds — give fetch_k: 80$"),
    ("{k: 3, search: mmr, fetch_k: 3}", r"retrieval\[0\]: fetch_k 3 must be more than k 3 for mmr: .* — give fetch_k: 12$"),
    ("{k: 5, search: mmr, fetch_k: 2}", r"retrieval\[0\]: fetch_k 2 must be more than k 5 for mmr: .* — give fetch_k: 20$"),
])
def test_an_mmr_search_that_keeps_every_candidate_is_refused_in_one_line(tmp_path: Path, entry: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        load_experiment(write(tmp_path, GOOD + f"retrieval:\n  - {entry}\n"))
    spec = load_experiment(write(tmp_path, GOOD + "retrieval:\n  - {k: 20, search: mmr, fetch_k: 21}\n  - {k: 20}\n"))
    assert [(r.k, r.fetch_k) for r in spec.retrieval] == [(20, 21), (20, 20)]  # a similarity search reads no fetch_k
    # what an older workbench stored (a variant's retrieval, a bundle's) still reads: it is what that variant ran
    from workbench.spec import RetrievalSpec

    assert RetrievalSpec.model_validate({"k": 20, "search": "mmr"}).fetch_k == 20


HF_RETRIEVAL = "retrieval:\n  - {k: 2, embedding: 'huggingface:models/my-embedder'}\n  - {k: 3, embedding: 'huggingface:sentence-transformers/all-MiniLM-L6-v2', name: hub}\n"


def test_a_relative_huggingface_folder_is_relative_to_the_experiment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a sentence-transformers model saved in the project (models/my-embedder) was looked for in the working directory:
    # `workbench run experiments/x.yaml` from the project's root, or a notebook in notebooks/, loaded another folder or
    # went to the hub for it
    (tmp_path / "models" / "my-embedder").mkdir(parents=True)
    path = write(tmp_path, GOOD + HF_RETRIEVAL)
    monkeypatch.chdir("/")
    spec = load_experiment(path)
    assert [r.embedding for r in spec.retrieval] == [f"huggingface:{tmp_path / 'models' / 'my-embedder'}",
                                                     "huggingface:sentence-transformers/all-MiniLM-L6-v2"]  # a hub name stays
    built = ExperimentSpec.from_dict(yaml.safe_load(GOOD + HF_RETRIEVAL), base_dir=tmp_path)
    assert [r.embedding for r in built.retrieval] == [r.embedding for r in spec.retrieval]


def test_a_relative_huggingface_folder_is_saved_relative_so_the_file_runs_in_another_clone(tmp_path: Path) -> None:
    (tmp_path / "models" / "my-embedder").mkdir(parents=True)
    spec = load_experiment(write(tmp_path, GOOD + HF_RETRIEVAL))
    saved = yaml.safe_load(spec.save(tmp_path / "sub" / "copy.yaml").read_text())
    assert [r["embedding"] for r in saved["retrieval"]] == ["huggingface:../models/my-embedder",
                                                            "huggingface:sentence-transformers/all-MiniLM-L6-v2"]
    assert [r["embedding"] for r in yaml.safe_load(spec.to_yaml())["retrieval"]][0] == "huggingface:models/my-embedder"
    clone = tmp_path.parent / (tmp_path.name + "-clone")
    shutil.copytree(tmp_path, clone)
    moved = load_experiment(clone / "sub" / "copy.yaml")
    assert moved.retrieval[0].embedding == f"huggingface:{clone / 'models' / 'my-embedder'}"
    # one experiment in two clones: one spec hash and the same variant ids (runs on a shared server are reused)
    other = load_experiment(write(clone, GOOD + HF_RETRIEVAL))
    assert other.hash == spec.hash and [v.id for v in expand_grid(other)] == [v.id for v in expand_grid(spec)]


def test_a_relative_huggingface_folder_of_a_spec_built_in_python_is_saved_relative_to_the_saved_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "my-embedder").mkdir(parents=True)
    built = ExperimentSpec.from_dict(yaml.safe_load(GOOD + HF_RETRIEVAL))
    written = yaml.safe_load(built.save(tmp_path / "experiments" / "x.yaml").read_text())
    assert [r["embedding"] for r in written["retrieval"]] == ["huggingface:../models/my-embedder",
                                                              "huggingface:sentence-transformers/all-MiniLM-L6-v2"]
    assert load_experiment(tmp_path / "experiments" / "x.yaml").retrieval[0].embedding == f"huggingface:{tmp_path / 'models' / 'my-embedder'}"


def test_a_huggingface_model_folder_is_named_by_its_folder_in_variant_names(tmp_path: Path) -> None:
    # made absolute when read, the folder's whole path (/home/alice/project/models/my-chat) was the variant's name
    (tmp_path / "models" / "my-chat").mkdir(parents=True)
    text = GOOD.replace("  - id: local:gemma3-270m\n", "  - id: huggingface:models/my-chat\n  - id: huggingface:HuggingFaceTB/SmolLM2-135M\n")
    spec = load_experiment(write(tmp_path, text))
    assert [m.short_name for m in spec.models] == ["my-chat", "HuggingFaceTB/SmolLM2-135M"]


def test_a_huggingface_path_written_as_one_is_relative_to_the_experiment_file_even_when_missing(tmp_path: Path) -> None:
    # so loading it names the folder it was looked for in, not one in the working directory
    text = GOOD + "retrieval:\n  - {embedding: 'huggingface:./models/not-saved-yet'}\n"
    assert load_experiment(write(tmp_path, text)).retrieval[0].embedding == f"huggingface:{tmp_path / 'models' / 'not-saved-yet'}"


def test_prompts_read_from_files_are_saved_as_files_and_an_edited_one_inline(tmp_path: Path) -> None:
    # loaded, edited in a notebook and saved, the experiment held every prompt inline: its prompts/*.txt files, which
    # the team edits and reviews, no longer fed it
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.txt").write_text("A {context}\n{question}\n", encoding="utf-8")
    (tmp_path / "prompts" / "b.txt").write_text("B {context}\n{question}\n", encoding="utf-8")
    text = GOOD.replace('    template: "Context: {context}\\nQuestion: {question}\\nAnswer:"\n',
                        "    file: prompts/a.txt\n  - name: b\n    file: prompts/b.txt\n")
    spec = load_experiment(write(tmp_path, text))
    edited = spec.prompts[1].model_copy(update={"template": "B edited {context}\n{question}\n"})
    notebook = spec.model_copy(update={"prompts": (spec.prompts[0], edited)})
    saved = notebook.save(tmp_path / "sub" / "copy.yaml")
    written = yaml.safe_load(saved.read_text(encoding="utf-8"))["prompts"]
    # the unchanged prompt names its file (relative to the saved file); the edited one, no longer that file's text, is
    # written inline, and the file (maybe another experiment's prompt too) is left as it was
    assert written == [{"name": "a", "file": "../prompts/a.txt"}, {"name": "b", "template": "B edited {context}\n{question}\n"}]
    assert (tmp_path / "prompts" / "b.txt").read_text(encoding="utf-8") == "B {context}\n{question}\n"
    assert load_experiment(saved).prompts == notebook.prompts
    # a spec built with from_dict and its folder keeps its files too; the experiment.yaml a sweep logs holds the text
    built = ExperimentSpec.from_dict(yaml.safe_load(text), base_dir=tmp_path)
    assert yaml.safe_load(built.save(tmp_path / "again.yaml").read_text(encoding="utf-8"))["prompts"][1] == {"name": "b", "file": "prompts/b.txt"}
    assert yaml.safe_load(spec.to_yaml())["prompts"][0]["template"] == "A {context}\n{question}\n"


@pytest.mark.parametrize("template", ["Answer from the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:",
                                      "{context}\nQ: {question}\nA: \n", "Context:\n{context}\n\tQuestion: {question}\n\n"])
def test_a_multi_line_prompt_saved_from_python_is_a_block_a_line_added_to_stays_a_line(tmp_path: Path, template: str) -> None:
    # spec.save() wrote a notebook's template as a single-quoted scalar ('Answer from the context.\n\n\n    Context:...'),
    # every line break doubled; a line typed under another in that file was read as the same line, joined by a space
    spec = ExperimentSpec.from_dict({"name": "handbook", "prompts": [{"name": "p", "template": template}],
                                     "models": [{"id": "local:gemma3-270m"}], "chunkers": [{"strategy": "recursive"}],
                                     "corpus": {"builtin": "python-reference"}, "dataset": {"path": "d.jsonl"}}, base_dir=tmp_path)
    saved = spec.save(tmp_path / "exp.yaml")
    assert load_experiment(saved).prompts[0].template == template  # read back as it was, a last space or tab included
    text = saved.read_text()
    if template.startswith("Answer"):
        assert "  template: |-\n    Answer from the context.\n\n    Context:\n" in text, text
        saved.write_text(text.replace("    Answer from the context.\n", "    Answer from the context.\n    Be brief.\n"))
        assert load_experiment(saved).prompts[0].template.startswith("Answer from the context.\nBe brief.\n\nContext:\n")
