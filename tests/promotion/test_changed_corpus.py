"""Promotion and export refuse a run whose corpus folder changed on disk since it was evaluated: its bundle names the
corpus by path, and a rebuild would answer from other documents than the ones its scores are of (load_bundle refuses
it at deployment, far from the cause)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import workbench as wb
from tests.promotion.conftest import sweep
from workbench.promotion import ExportError, PromotionError

GATES = [{"kind": "min_questions", "n": 1}]


def test_a_run_whose_corpus_changed_since_is_refused_naming_the_documents(tmp_path: Path) -> None:
    # was promoted silently: its bundle named corpus/ and its evaluated hash, and load_bundle refused it at deployment
    swept = sweep(tmp_path / "project")
    corpus = swept.root / "corpus"
    (corpus / "loops.md").write_text("# Loops\n\nRewritten since the evaluation.", encoding="utf-8")
    (corpus / "errors.md").unlink()
    (corpus / "new.md").write_text("# New\n\nAdded since the evaluation.", encoding="utf-8")
    with pytest.raises(PromotionError, match=r"^run \w+ was evaluated on corpus '.*corpus' \(4 documents\), which changed since: "
                                             r"1 added \(new\), 1 removed \(errors\), 1 changed \(loops\) — .*run the experiment "
                                             r"again"):
        wb.promote(swept.run_id("good"), name="changed", alias="staging", gates=GATES, settings=swept.settings)
    from mlflow import MlflowClient

    assert not MlflowClient(swept.settings.tracking_uri).search_registered_models(filter_string="name = 'changed'")  # nothing written


def test_a_run_whose_corpus_is_as_evaluated_is_promoted_and_its_folder_moved_away_is_not_checked(tmp_path: Path) -> None:
    swept = sweep(tmp_path / "project")
    (swept.root / "corpus" / "loops.md").touch()  # its time changed, not its text
    assert wb.promote(swept.run_id("good"), name="same", alias="staging", gates=GATES, settings=swept.settings).version == "1"
    # promoted from a clone where the corpus is not (a CI runner's): nothing to compare, the bundle's load checks it
    shutil.move(swept.root / "corpus", tmp_path / "moved")
    assert wb.promote(swept.run_id("bad"), name="moved", alias="staging", gates=GATES, settings=swept.settings).version == "1"


def test_an_export_of_a_version_whose_corpus_changed_since_is_refused(tmp_path: Path, deploy_repo: Path) -> None:
    swept = sweep(tmp_path / "project")
    wb.promote(swept.run_id("good"), name="later", alias="staging", gates=GATES, settings=swept.settings)
    (swept.root / "corpus" / "classes.md").write_text("# Classes\n\nEdited after the promotion.", encoding="utf-8")
    with pytest.raises(ExportError, match=r"^later v1: run \w+ was evaluated on corpus '.*corpus' \(4 documents\), which changed "
                                          r"since: 1 changed \(classes\) — "):
        wb.export("later", "staging", repo=deploy_repo, settings=swept.settings)


def test_the_changes_name_a_few_documents_of_each_kind_and_count_the_rest() -> None:
    from workbench.promotion._corpus_check import describe_changes

    evaluated = {f"d{i}": "x" for i in range(6)}
    current = {**{f"d{i}": "y" for i in range(5)}, "n1": "z"}
    assert describe_changes(evaluated, current) == "1 added (n1), 1 removed (d5), 5 changed (d0, d1, d2 and 2 more)"
    assert describe_changes({"a": "1", "b": "2"}, {"b": "2", "a": "1"}) == "the same documents, listed in another order"


def test_a_run_on_the_built_in_corpus_of_another_workbench_is_named(tmp_path: Path) -> None:
    from workbench.config import settings
    from workbench.promotion._config import CorpusInfo
    from workbench.promotion._corpus_check import corpus_change

    cfg = settings(root=tmp_path)
    other = CorpusInfo(builtin="python-reference", hash="0" * 64)
    assert corpus_change(None, "r1", None, other, cfg) == ("run r1 was evaluated on the built-in corpus 'python-reference' of another "
                                                           f"workbench (hash {'0' * 12}), and this workbench's differs "
                                                           f"({wb.load_corpus('python-reference').hash[:12]})")
    same = CorpusInfo(builtin="python-reference", hash=wb.load_corpus("python-reference").hash)
    assert corpus_change(None, "r1", None, same, cfg) is None


def test_a_changed_corpus_of_html_pages_says_their_text_may_be_read_otherwise(tmp_path: Path) -> None:
    # its files may be the evaluated ones, their text read otherwise by another version of the package reading them
    # (or of workbench's own reading): "1 changed" alone sent the user looking for an edit nobody made
    from workbench.config import settings
    from workbench.promotion._config import CorpusInfo
    from workbench.promotion._corpus_check import corpus_change

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "page.html").write_text("<html><body><p>Travel policy: book ahead.</p></body></html>", encoding="utf-8")
    info = CorpusInfo(path=str(tmp_path / "kb"), glob="**/*.html", hash="0" * 64, documents=1)
    said = corpus_change(None, "r1", None, info, settings(root=tmp_path))
    assert said is not None and said.endswith("which changed since: the same number of documents (1), so a document's text changed "
                                              "(or its HTML pages, PDFs, Word documents or decks are read otherwise here than by the "
                                              "sweep: by another workbench, or by other versions of beautifulsoup4, pypdf, python-docx "
                                              "and python-pptx than its run's workbench.versions tag names)")
    (tmp_path / "kb" / "page.html").rename(tmp_path / "kb" / "page.md")
    info = info.model_copy(update={"glob": "**/*.md"})
    assert not corpus_change(None, "r1", None, info, settings(root=tmp_path)).endswith(")")  # type: ignore[union-attr]
