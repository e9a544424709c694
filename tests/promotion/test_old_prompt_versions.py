"""A prompt version an earlier workbench registered in MLflow's double-brace syntax, for a template sending a literal
``{{name}}`` (which that syntax reads as a variable the template never had; workbench registers such a template as
Jinja2 since 2026-12-07): a promotion, a promotion to production and a rollback of that template leave the Prompt
Registry's alias on a version that renders what was evaluated, never on the old one."""

from __future__ import annotations

from typing import Any

import pytest
from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import fake_models, write_project
from workbench.config import settings
from workbench.promotion._config import to_mlflow_template
from workbench.promotion._registry import PROMPT_HASH_TAG, PROMPT_VERSION_TAG, RUN_ID_TAG
from workbench.prompts import PromptTemplate
from workbench.spec import PromptSpec

# sends the text '{{slot}}', which MLflow's double-brace syntax reads as a variable: "Missing variables: {'slot'}"
SLOT = "GOOD. Fill {{{{slot}}}} from Context: {context}\nQuestion: {question}\nAnswer:"
OTHER = "GOOD. Context: {context}\nQuestion: {question}\nAnswer:"
QUESTION, CONTEXT = "How is a function defined?", "A function is defined with def."


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    root = tmp_path_factory.mktemp("oldprompt")
    cfg = settings(root=root, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    spec = write_project(root).model_copy(update={"prompts": [
        PromptSpec(name="slot", template=SLOT), PromptSpec(name="other", template=OTHER)]})
    result = wb.run(spec, settings=cfg, models=fake_models(), progress=False)
    assert [v.status for v in result.variants] == ["FINISHED", "FINISHED"]
    return cfg, {v.variant.prompt.name: v.run_id for v in result.variants}


def _old_version(c: MlflowClient, prompt_name: str, run_id: str) -> int:
    """A prompt version as a workbench of before 2026-12-07 registered the template SLOT: in MLflow's syntax."""
    tags = {PROMPT_HASH_TAG: PromptTemplate("slot", SLOT).hash, "workbench.prompt": "slot", RUN_ID_TAG: run_id}
    if not c.search_prompts(filter_string=f"name = '{prompt_name}'"):
        c.create_prompt(prompt_name, tags=tags)
    return int(c.create_prompt_version(prompt_name, to_mlflow_template(SLOT), tags=tags).version)


def _renders_as_evaluated(c: MlflowClient, prompt_name: str, alias: str) -> None:
    sent = PromptTemplate("slot", SLOT).render(question=QUESTION, context=CONTEXT).text
    assert c.get_prompt_version_by_alias(prompt_name, alias).format(question=QUESTION, context=CONTEXT) == sent


def test_a_promotion_does_not_reuse_an_old_format_version_of_its_prompt(swept: tuple[Any, dict[str, str]]) -> None:
    cfg, runs = swept
    c = MlflowClient(cfg.tracking_uri, registry_uri=cfg.tracking_uri)
    old = _old_version(c, "reuse-prompt", runs["slot"])
    done = wb.promote(runs["slot"], name="reuse", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg)
    assert done.prompt_version != old
    _renders_as_evaluated(c, "reuse-prompt", "staging")


def test_production_and_rollback_of_a_version_registered_with_an_old_format_prompt_render_as_evaluated(
        swept: tuple[Any, dict[str, str]]) -> None:
    cfg, runs = swept
    c = MlflowClient(cfg.tracking_uri, registry_uri=cfg.tracking_uri)
    gates = [{"kind": "min_questions", "n": 1}]
    first = wb.promote(runs["slot"], name="older", alias="staging", gates=gates, settings=cfg)
    # as an earlier workbench registered it: the configuration's version names a prompt version in MLflow's syntax
    old = _old_version(c, "older-prompt", runs["slot"])
    c.set_model_version_tag("older", first.version, PROMPT_VERSION_TAG, str(old))
    c.set_prompt_alias("older-prompt", "staging", old)
    production = wb.promote(runs["slot"], name="older", alias="production", gates=gates, settings=cfg)
    assert production.version == first.version and production.prompt_version != old
    _renders_as_evaluated(c, "older-prompt", "production")
    # again an old-format prompt on v1, then staging replaced and rolled back to v1
    c.set_model_version_tag("older", first.version, PROMPT_VERSION_TAG, str(old))
    wb.promote(runs["other"], name="older", alias="staging", gates=gates, settings=cfg)
    back = wb.rollback("older", alias="staging", settings=cfg)
    assert back.version == first.version
    _renders_as_evaluated(c, "older-prompt", "staging")
    assert c.get_model_version("older", first.version).tags[PROMPT_VERSION_TAG] != str(old)
