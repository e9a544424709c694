"""``EVALUATION.md``: the human-readable report of an exported bundle (pure: data in, markdown out)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.comparison import number_text
from workbench.metrics import is_count
from workbench.promotion._config import AuditRecord, BundleConfig, GateRecord, MetricRecord, RegistryRecord, escalation_text
from workbench.spec import ModelSpec

_MAX_ROWS = 50
_MAX_TEXT = 160
# control characters, and the bidirectional embeddings, overrides and isolates that reorder the text after them
# ("refund \u202e001$" shows as "refund $100"); the right-to-left and left-to-right marks of Arabic and Hebrew stay
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # where markdown reads HTML, a comment or an autolink; '<= 0.3' stays


def _inert(text: str) -> str:
    """Text that a markdown viewer shows as written (pure): answers, questions and corpus text are the model's and the
    data's, and ``<!--`` hid the rest of the report, ``<img onerror=...>`` ran where the viewer renders HTML, and
    ``![x](https://...?q=...)`` loaded that address (a prompt injection's way out) when the report was opened. A ``<``
    that starts a tag is escaped, links and images are broken at ``](`` and ``][``, and control characters (terminal
    escapes) are shown as ``\\x1b``, bidirectional overrides as ``\\u202e``."""
    text = _TAG_START.sub("&lt;", text).replace("](", "\\](").replace("][", "\\][")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if m.group() < "\u0100" else f"\\u{ord(m.group()):04x}", text)


def _cell(value: Any, limit: int = _MAX_TEXT) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return number_text(value)  # a cost of $0.00045 is 4.50e-04, not 0.000
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _inert(text).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_rows(metrics: Mapping[str, MetricRecord]) -> list[list[Any]]:
    rows = []
    for name, m in metrics.items():
        interval = (f"[{number_text(m.interval.low)}, {number_text(m.interval.high)}] (n={m.interval.n})"
                    if m.interval and m.interval.low is not None and m.interval.high is not None else "")
        rows.append([name, _count(m.value) if is_count(name) else m.value, interval])
    return rows


def _count(value: float | None) -> float | int | None:
    """A count as a whole number (5 questions, 307 output tokens: not 5.000), as the CLI and the widgets show it."""
    return int(value) if value is not None and float(value).is_integer() else value


def _error(row: Mapping[str, Any]) -> str | None:
    """The error of a question that failed (the table holds NaN or None for the others)."""
    error = row.get("error")
    return error if isinstance(error, str) and error.strip() else None


def _judge_text(judge: Mapping[str, str]) -> str:
    """``local:gemma3-270m (chat); 2 repeats, temperature 0.0, max_tokens 256``: what scored the judged metrics (pure)."""
    kind = f" ({judge['kind']})" if judge.get("kind") not in (None, "", "None") else ""
    settings = [f"{judge['n']} repeats" if judge.get("n") not in (None, "1") else "",
                *(f"{key} {judge[key]}" for key in ("temperature", "max_tokens", "context_window") if judge.get(key))]
    return f"{judge['id']}{kind}" + (f"; {', '.join(s for s in settings if s)}" if any(settings) else "")


def _gate_rows(gates: Sequence[GateRecord]) -> list[list[Any]]:
    return [["PASS" if g.passed else "FAIL", g.gate, _count(g.value) if g.kind == "min_questions" else g.value, g.detail] for g in gates]


def _versions_section(versions: Mapping[str, str]) -> list[str]:
    """The packages the run was evaluated with, for a deployment to install the same (none when not recorded)."""
    if not versions:
        return []
    return ["## Evaluated with", "",
            "The packages that answered and scored the evaluation: serve the bundle with the same ones for the same answers "
            "(another llama.cpp build, or another version of the embedding or chunking code, can answer or rank otherwise; "
            "another pypdf, beautifulsoup4, python-docx or python-pptx can read a corpus's PDFs, HTML pages, Word documents and "
            "PowerPoint decks as other text).",
            "", _table(["package", "version"], sorted(versions.items())), ""]


def _model_text(m: ModelSpec) -> str:
    return f"{m.id} ({m.resolved_kind}); {m.settings_text}"


def _model_rows(config: BundleConfig) -> list[list[Any]]:
    """The configuration table's rows of the answering model, or of a router: its name and policy, then each model."""
    if config.router is None:
        return [["model", _model_text(config.model)]]
    return [["router", f"{config.router.name}: escalates when {escalation_text(config.router.escalate_when)}"],
            ["cheap model", _model_text(config.router.cheap)], ["strong model", _model_text(config.router.strong)]]


def render_report(
    *,
    config: BundleConfig,
    alias: str,
    registry: RegistryRecord,
    metrics: Mapping[str, MetricRecord],
    gates: Sequence[GateRecord],
    audit: AuditRecord | None,
    rows: Sequence[Mapping[str, Any]],
    score_columns: Sequence[str],
    plots: Sequence[str],
    reused_from: str | None = None,
    judge: Mapping[str, str] | None = None,
    versions: Mapping[str, str] | None = None,
) -> str:
    """The report: configuration, provenance, metrics with intervals, gates, audit, plots, per-question results.

    ``reused_from`` is the run that computed the promoted run's results, when its sweep reused them (the promoted run
    holds a copy; the answers, their traces and their timing are that run's); ``judge`` the run's ``judge.*`` params,
    the model that scored its judged metrics; ``versions`` the packages it was evaluated with (its ``workbench.versions``
    tag), package -> version."""
    reused = (f" Its sweep reused the results of run `{reused_from}`, which computed them (the same configuration, "
              "dataset and corpus): the answers, traces and latencies are that run's." if reused_from else "")
    out = [
        f"# {config.name} @ {alias} — v{registry.version}",
        "",
        f"Configuration `{config.config_hash[:12]}` promoted from MLflow run `{registry.run_id}` "
        f"(experiment {registry.experiment_id}), evaluated on dataset **{_inert(config.dataset.name)}** "
        f"({config.dataset.cases} questions, hash `{config.dataset.hash[:12]}`).{reused}",
        "",
        "## Configuration",
        "",
        _table(["part", "value"], [
            ["prompt", f"{config.prompt.name} ({config.prompt.file}; registry {config.prompt.registry_name} v{config.prompt.registry_version})"],
            *_model_rows(config),
            ["seed", config.seed],
            ["chunker", config.chunker.label],
            ["retrieval", f"{config.retrieval.label} with {config.retrieval.embedding}"],
            ["corpus", f"{config.corpus.builtin or config.corpus.path} (hash {config.corpus.hash[:12]})"],
            *([f"server of {model_id}", server] for model_id, server in (config.servers or {}).items()),
            *([["judge", _judge_text(judge)]] if judge and judge.get("id") else []),
        ]),
        "",
        *_versions_section(versions or {}),
        "## Metrics",
        "",
        f"Means over questions; intervals are 95% expanded percentile-bootstrap intervals over questions (Hesterberg 2015: wider "
        f"than the plain percentile interval on few questions), resampled with seed {config.seed}, as the sweep's comparison.json.",
        "",
        _table(["metric", "value", "95% interval"], _metric_rows(metrics)),
        "",
        "## Gates",
        "",
        _table(["result", "gate", "value", "detail"], _gate_rows(gates)) if gates else "No gate results recorded.",
        "",
    ]
    out += ["## Audit", ""]
    if audit is not None:
        out.append(_table(["field", "value"], [
            ["promoted by", audit.user], ["at (UTC)", audit.at.isoformat()], ["run", audit.run_id],
            ["replaced version", audit.previous_version or "none"], ["gates passed", "yes" if audit.gates_passed else "no"],
            ["reason" if audit.gates_passed else "override reason", audit.override_reason or "none"], ["staging required first", "yes" if audit.require_staging else "no"],
        ]))
    else:
        out.append("No audit record: the alias was set outside workbench.")
    out.append("")
    if plots:
        out += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if rows:
        # a question that failed (a gate overridden) shows its error, and comes first: the reviewer's first question
        failed = [r for r in rows if _error(r)]
        cols = ["case_id", "question", "answer", "retrieved_ids", *score_columns, *(["error"] if failed else [])]
        shown = (failed + [r for r in rows if not _error(r)])[:_MAX_ROWS]
        out += ["## Per-question results", ""]
        if len(rows) > len(shown):
            out += [f"First {len(shown)} of {len(rows)} questions.", ""]
        out.append(_table(cols, [[_error(r) if c == "error" else r.get(c) for c in cols] for r in shown]))
        out.append("")
    return "\n".join(out)
