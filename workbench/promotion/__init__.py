"""Promotion into production: evidence gates, MLflow registry aliases, an audited export, and the bundle loader.

    import workbench as wb
    wb.promote(run_id, name="python-docs-assistant", alias="staging")
    wb.promote(run_id, name="python-docs-assistant", alias="production")
    wb.export("python-docs-assistant", "production", repo="../deploy-repo")
    bundle = wb.load_bundle("../deploy-repo/python-docs-assistant/production")
    bundle.answer("What does the pass statement do?")
    wb.rollback("python-docs-assistant", alias="production")

Only this package writes registry aliases; sweeps (``wb.run``) never do.

Where each part lives:

    _promote        ``promote`` (gates, then the registry) and ``rollback``
    _candidate      a variant run read back as a deployable candidate, and its gate evidence
    _gates          the gates: pure functions over a run's metrics and per-question scores
    _config         what is registered and exported: the bundle config, the audit record, the manifest
    _registry       the MLflow side: prompt and configuration versions, aliases and their history
    _corpus_check   whether the corpus a run was evaluated on is still the one its bundle would read
    _secrets        no secret written to a deployment repository or the registry
    _export         an alias's configuration exported into a deployment git repository as one commit
    _git            the git plumbing that builds that commit without touching the working tree
    _report         ``EVALUATION.md``, the exported bundle's report (pure)
    _bundle         ``load_bundle``: a promoted pipeline rebuilt from its bundle folder alone
    _errors         one-line errors saying what to do
"""

from workbench.promotion._bundle import Bundle, BundleAnswer, load_bundle
from workbench.promotion._config import AuditRecord, BundleConfig, Environment, Manifest, config_hash, to_mlflow_template
from workbench.promotion._errors import BundleError, ExportError, GateFailed, GateMetricUnknown, PromotionError, SecretFound
from workbench.promotion._export import ExportResult, build_bundle, export
from workbench.promotion._gates import Evidence, GateReport, GateResult, Holder, evaluate_gates, paired_values, unknown_gate_metrics
from workbench.promotion._git import GitRepo
from workbench.promotion._promote import Promotion, Rollback, promote, rollback
from workbench.promotion._registry import alias_history, prompt_registry_name
from workbench.promotion._secrets import SecretHit, find_secrets, scan_files

__all__ = [
    "AuditRecord",
    "Bundle",
    "BundleAnswer",
    "BundleConfig",
    "BundleError",
    "Environment",
    "Evidence",
    "ExportError",
    "ExportResult",
    "GateFailed",
    "GateMetricUnknown",
    "GateReport",
    "GateResult",
    "GitRepo",
    "Holder",
    "Manifest",
    "Promotion",
    "PromotionError",
    "Rollback",
    "SecretFound",
    "SecretHit",
    "alias_history",
    "build_bundle",
    "config_hash",
    "evaluate_gates",
    "export",
    "find_secrets",
    "load_bundle",
    "paired_values",
    "promote",
    "prompt_registry_name",
    "rollback",
    "scan_files",
    "to_mlflow_template",
    "unknown_gate_metrics",
]
