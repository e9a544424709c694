"""A prompt file's final newline (editors add one) is part of its template: the sweep sends it, and the promoted
bundle, its rebuild and the Prompt Registry's version send the very same text (its hash, cache keys and ids are the
template's as read, so it is kept, not stripped)."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import CASES, DOCS, git, scripted_answer
from workbench.config import settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.testing import HashingEmbedder, ScriptedModel

TEMPLATE = "GOOD. Context: {context}\nQuestion: {question}\nAnswer:\n"


def test_a_prompt_files_final_newline_is_sent_alike_by_the_run_the_bundle_and_the_registry(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    for doc_id, text in DOCS.items():
        (tmp_path / "corpus" / f"{doc_id}.md").write_text(text, encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    (tmp_path / "qa.txt").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        f"name: newline\ndataset: {{path: cases.jsonl}}\ncorpus: {{path: corpus}}\nprompts:\n  - {{name: qa, file: qa.txt}}\n"
        f"models:\n  - {{id: {GEMMA_ID}}}\nchunkers:\n  - {{strategy: recursive, size: 200, overlap: 20}}\nretrieval:\n  - {{k: 2}}\n",
        encoding="utf-8")
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    model = ScriptedModel(scripted_answer, model_id=GEMMA_ID)
    (variant,) = wb.run(wb.load_experiment(tmp_path / "exp.yaml"), settings=cfg, progress=False, limit=1,
                        models={GEMMA_ID: model, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}).variants
    (sent,) = model.calls
    assert sent.text.endswith("\nAnswer:\n")  # the file's final newline reached the model

    wb.promote(variant.run_id, name="newline", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg)
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    folder = wb.export("newline", "staging", repo=repo, settings=cfg, checkout=True).path
    assert (folder / "prompts" / "qa.txt").read_bytes() == TEMPLATE.encode()
    rebuilt = ScriptedModel(scripted_answer, model_id=GEMMA_ID)
    bundle = wb.load_bundle(folder, corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index",
                            models={GEMMA_ID: rebuilt, MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    bundle.answer(CASES[0]["question"])
    assert [c.text for c in rebuilt.calls] == [sent.text]

    registered = MlflowClient(cfg.tracking_uri, registry_uri=cfg.tracking_uri).get_prompt_version_by_alias("newline-prompt", "staging")
    context = sent.text.split("Context: ", 1)[1].split("\nQuestion:", 1)[0]
    assert registered.format(question=CASES[0]["question"], context=context) == sent.text
