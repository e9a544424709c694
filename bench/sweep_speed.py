"""Benchmark: what never computing the same thing twice saves on the quickstart sweep, measured in one run.

The quickstart grid with the local Gemma 3 270M (2 prompts x 2 chunkers; ``--all-models`` keeps every model of
experiments/quickstart.yaml), real MiniLM embeddings, real Chroma, a real sqlite MLflow store, 20 questions (whatever
the quickstart's own limit) unless ``--questions N``; each scenario timed on the wall clock:

  a) naive        a hand-written loop over the grid with workbench's public pieces: every variant chunks, embeds and
                  indexes the corpus itself (Chroma) and generates every answer with the real model; no cache, no
                  scoring, no tracking
  b) cold         ``wb.run`` with an empty cache and an empty store (it scores with the spec's default scorers and
                  logs everything to MLflow)
  c) warm         the same sweep again, unchanged
  d) +1 prompt    a third prompt (a copy of grounded.txt with one word changed)
  e) +1 chunker   on top of d, a third chunker (sentence, 400 chars)
  f0) cold CLI   the cold sweep as one ``workbench run`` in a fresh process with its own empty cache and store (it opens
                  the indexes b) built): the like-for-like baseline of f)
  f) kill -9      ``workbench run`` in a subprocess with its own empty cache and store (it opens the indexes b) built),
                  SIGKILLed when about half the cold run's answers are cached, then the same command again to completion

Models are loaded (and called once) before anything is timed, so a)-e) time the work, not the loading; f) runs two
fresh processes and so includes two start-ups and model loads. llama.cpp uses ``WORKBENCH_LLAMA_THREADS`` as set.

    .venv/bin/python bench/sweep_speed.py                 # the full benchmark (about 15-25 minutes on 2 cores)
    .venv/bin/python bench/sweep_speed.py --questions 3   # a quick check that it works
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "quickstart.yaml"
NEW_CHUNKER = {"strategy": "sentence", "size": 400, "overlap": 0}
# Where workbench keeps things: every scenario gets its own, under a temporary folder.
_LOCATION_VARS = ("WORKBENCH_ROOT", "WORKBENCH_HOME", "WORKBENCH_CACHE_DIR", "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class Row:
    name: str
    wall_s: float
    calls: int
    compute_s: float  # summed latency of the model calls made (cached answers excluded)
    index_s: float = 0.0  # chunking, embedding and indexing the corpus (or opening a built index)
    variants: int = 0
    reused: int = 0
    note: str = ""


def location_env(home: Path) -> dict[str, str]:
    """Environment that puts the cache, indexes, sandboxes and the sqlite MLflow store under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
    env.update({
        "WORKBENCH_ROOT": str(home), "WORKBENCH_HOME": str(home / ".workbench"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
    })
    return env


def write_experiments(folder: Path, *, all_models: bool = False) -> dict[str, Path]:
    """Temporary copies of the quickstart (its Gemma variants unless ``all_models``): as is, with a third prompt, and
    with a third prompt and a third chunker."""
    from workbench.models import GEMMA_ID

    folder.mkdir(parents=True)
    shutil.copytree(EXPERIMENT.parent / "prompts", folder / "prompts")
    grounded = (folder / "prompts" / "grounded.txt").read_text(encoding="utf-8")
    changed = grounded.replace("only", "just", 1) if "only" in grounded else "Please. " + grounded
    (folder / "prompts" / "grounded2.txt").write_text(changed, encoding="utf-8")
    data = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
    data["dataset"]["path"] = str((EXPERIMENT.parent / data["dataset"]["path"]).resolve())
    if not all_models:
        data["models"] = [m for m in data["models"] if m["id"] == GEMMA_ID]
    plus_prompt = {**data, "prompts": [*data["prompts"], {"name": "grounded2", "file": "prompts/grounded2.txt"}]}
    plus_chunker = {**plus_prompt, "chunkers": [*data["chunkers"], NEW_CHUNKER]}
    paths = {}
    for name, content in (("base", data), ("plus_prompt", plus_prompt), ("plus_chunker", plus_chunker)):
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return paths


def naive_loop(spec: Any, questions: int, index_dir: Path) -> Row:
    """a) Every variant builds its own index and generates every answer; nothing is shared, cached or scored."""
    import workbench as wb
    from workbench.models import GenerationParams, load_embedder, load_generator
    from workbench.pipeline import ChromaIndexStore, Retriever, answer_question, chunk_corpus

    start = time.perf_counter()
    dataset = wb.load_dataset(spec.resolve(spec.dataset.path), limit=questions)
    corpus = wb.load_corpus(spec.corpus.builtin or spec.resolve(spec.corpus.path or ""), glob=spec.corpus.glob)
    store = ChromaIndexStore(index_dir)
    calls, compute, index_s = 0, 0.0, 0.0
    variants = wb.expand_grid(spec)
    for n, variant in enumerate(variants):
        assert variant.model is not None and variant.prompt is not None
        embedder = load_embedder(variant.retrieval.embedding)
        generator = load_generator(variant.model.id, kind=variant.model.resolved_kind)
        started = time.perf_counter()
        chunks = chunk_corpus(corpus, variant.chunker, embedder.tokenizer if variant.chunker.strategy == "token" else None)
        index = store.build(f"naive-{n}", chunks, embedder.embed([c.text for c in chunks]))
        index_s += time.perf_counter() - started
        retriever = Retriever(index=index, embedder=embedder, spec=variant.retrieval)
        template = wb.PromptTemplate(variant.prompt.name, variant.prompt.template or "", variant.prompt.system)
        p = variant.model.params
        params = GenerationParams(temperature=p.temperature, max_tokens=p.max_tokens, stop=p.stop, seed=spec.seed, timeout_s=p.timeout_s)
        for case in dataset.cases:
            record = answer_question(case, retriever=retriever, template=template, generator=generator, params=params)
            calls += 1
            compute += record.generation.latency_s if record.generation else 0.0
    return Row("a) naive loop", time.perf_counter() - start, calls, compute, index_s, len(variants), 0, "index per variant, no cache, not scored")


def sweep(name: str, experiment: Path, questions: int, note: str = "") -> tuple[Row, Any]:
    """One ``wb.run`` in this process (locations from the environment), timed."""
    import workbench as wb

    index_s, opened = 0.0, [0.0]

    def on_event(event: wb.ProgressEvent) -> None:
        nonlocal index_s
        if event.kind == "index_started":
            opened[0] = time.perf_counter()
        elif event.kind == "index_built":
            index_s += time.perf_counter() - opened[0]

    start = time.perf_counter()
    result = wb.run(experiment, limit=questions, progress=False, on_event=on_event)
    wall = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"{name}: {len(result.failed)} variant(s) failed: {result.failed[0].outcome.error}")
    calls = int(sum(v.metrics.get("generation_calls", 0.0) for v in result.variants))
    compute = sum(r.generation.latency_s for v in result.variants for r in v.records if r.generation and not r.generation.cached)
    reused = sum(1 for v in result.variants if v.reused_from)
    return Row(name, wall, calls, compute, index_s, len(result.variants), reused, note), result


def cache_info(cache_dir: Path) -> Any:
    """The cache's ``info()`` (entries, hits and misses by kind), read by opening it for a moment."""
    from workbench.cache import DiskCacheStore

    store = DiskCacheStore(cache_dir)
    try:
        return store.info()
    finally:
        store.close()


def generation_entries(cache_dir: Path) -> int:
    """The answers cached so far (0 before the subprocess has created the cache)."""
    return int(cache_info(cache_dir).entries.get("generation", 0)) if cache_dir.is_dir() else 0


def generation_calls(cache_dir: Path) -> int:
    """The model calls a cache has recorded (its generation misses): the calls that reached the model."""
    return int(cache_info(cache_dir).misses.get("generation", 0))


def run_to_end(command: list[str], env: dict[str, str], home: Path, log: Path, *, mode: str, what: str) -> float:
    """Run ``command`` in ``home`` to completion, its output appended (``mode`` "a") or written ("w") to ``log``;
    returns its wall time. A non-zero exit ends the benchmark, naming ``what`` failed."""
    with log.open(mode) as out:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT, check=False)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}); see {log}")
    return wall


def cli_command(experiment: Path, questions: int, home: Path, indexes_of: Path) -> tuple[list[str], dict[str, str]]:
    """``workbench run`` in a fresh process with its own cache and store under ``home``, opening the indexes of the
    home ``indexes_of``: the command line and its environment."""
    env = {**location_env(home), "WORKBENCH_HOME": str(indexes_of / ".workbench"), "WORKBENCH_CACHE_DIR": str(home / "cache")}
    return [sys.executable, "-m", "workbench.cli", "run", str(experiment), "--limit", str(questions), "--no-progress"], env


def cli_cold(experiment: Path, questions: int, home: Path, indexes_of: Path, log: Path) -> Row:
    """f0) The cold sweep as one ``workbench run`` process, as f) runs it but never killed: what f) is compared with."""
    command, env = cli_command(experiment, questions, home, indexes_of)
    wall = run_to_end(command, env, home, log, mode="w", what="f0) the cold workbench run")
    calls = generation_calls(home / "cache")
    return Row("f0) cold, one process", wall, calls, 0.0, note="workbench run in a fresh process; opens b)'s indexes")


def kill_and_resume(experiment: Path, questions: int, home: Path, indexes_of: Path, kill_at: int, log: Path) -> tuple[Row, Row, int]:
    """f) ``workbench run`` killed with SIGKILL once ``kill_at`` answers are cached, then run again to completion.

    Its cache and MLflow store are its own (empty at the start); it opens the Chroma indexes the cold run built (the
    home ``indexes_of``), so that f) measures answers and runs, and is compared with the cold run minus its index time.
    """
    cache_dir = home / "cache"
    command, env = cli_command(experiment, questions, home, indexes_of)
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT)
        cached = 0
        try:
            while proc.poll() is None:
                cached = generation_entries(cache_dir)
                if cached >= kill_at:
                    break
                time.sleep(0.25)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        killed_wall = time.perf_counter() - start
    if code != -signal.SIGKILL:
        raise SystemExit(f"f) the first run ended by itself (exit {code}) before {kill_at} answers were cached; see {log}")
    calls_killed = generation_calls(cache_dir)
    resumed_wall = run_to_end(command, env, home, log, mode="a", what="f) the resumed run")
    total_calls = generation_calls(cache_dir)
    reuse = next((line for line in log.read_text().splitlines() if line.startswith("reused ")), "")
    return (
        Row("f) killed at ~half", killed_wall, calls_killed, 0.0, note=f"SIGKILL with {cached} answers cached"),
        Row("f) resumed", resumed_wall, total_calls - calls_killed, 0.0, note=reuse),
        total_calls,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20, help="questions per variant (default 20)")
    parser.add_argument("--all-models", action="store_true", help="every model of the quickstart, not only Gemma 3 270M")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (and print where it is)")
    args = parser.parse_args()
    q = args.questions
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that a terminated run still removes its folder
    tmp = Path(tempfile.mkdtemp(prefix="wb-sweep-speed-"))
    main_home = tmp / "main"
    main_home.mkdir()
    for var in _LOCATION_VARS:
        os.environ.pop(var, None)
    os.environ.update(location_env(main_home))

    import workbench as wb
    from workbench.models import GenerationParams, load_embedder, load_generator

    experiments = write_experiments(tmp / "experiment", all_models=args.all_models)
    spec = wb.load_experiment(experiments["base"])
    models = ", ".join(f"{m.id} (max_tokens {m.params.max_tokens})" for m in spec.models)
    print(f"quickstart grid: {len(wb.expand_grid(spec))} variants x {q} questions; {models}; "
          f"WORKBENCH_LLAMA_THREADS={os.environ.get('WORKBENCH_LLAMA_THREADS', 'unset (2)')}")
    print(f"temporary cache, indexes and MLflow store under {tmp}", flush=True)

    # load both models once (and call each once) so that no scenario below pays for loading them
    load_embedder(spec.retrieval[0].embedding).embed(["warm up"])
    warm_up = wb.PromptTemplate("warm-up", "{context}Question: {question}\nAnswer:").render(question="What is Python?", context="")
    for model in spec.models:
        load_generator(model.id, kind=model.resolved_kind).generate(warm_up, GenerationParams(max_tokens=4))

    rows: list[Row] = []
    try:
        naive = naive_loop(spec, q, tmp / "naive-indexes")
        rows.append(naive)
        print(f"  {naive.name}: {naive.wall_s:.1f}s", flush=True)
        cold, _ = sweep("b) workbench cold", experiments["base"], q, "empty cache and store")
        rows.append(cold)
        print(f"  {cold.name}: {cold.wall_s:.1f}s", flush=True)
        for name, key, note in (("c) warm (unchanged)", "base", ""), ("d) +1 prompt", "plus_prompt", ""),
                                ("e) +1 chunker", "plus_chunker", "on top of d")):
            row, _ = sweep(name, experiments[key], q, note)
            rows.append(row)
            print(f"  {row.name}: {row.wall_s:.1f}s", flush=True)
        cli_home = tmp / "cli-cold"
        cli_home.mkdir()
        one_process = cli_cold(experiments["base"], q, cli_home, main_home, tmp / "cli-cold.log")
        rows.append(one_process)
        print(f"  {one_process.name}: {one_process.wall_s:.1f}s", flush=True)
        kill_home = tmp / "kill"
        kill_home.mkdir()
        killed, resumed, total_calls = kill_and_resume(experiments["base"], q, kill_home, main_home, max(1, cold.calls // 2), tmp / "kill.log")
        rows += [killed, resumed]
        print(f"  f) killed + resumed: {killed.wall_s:.1f}s + {resumed.wall_s:.1f}s", flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'scenario':22s} {'wall s':>8s} {'index s':>8s} {'model calls':>12s} {'model compute s':>16s} {'variants':>9s} {'reused':>7s}  note")
    for r in rows:
        index = f"{r.index_s:8.1f}" if r.index_s else f"{'-':>8s}"
        compute = f"{r.compute_s:16.1f}" if r.compute_s else f"{'-':>16s}"
        print(f"{r.name:22s} {r.wall_s:8.1f} {index} {r.calls:12d} {compute} {r.variants or '-':>9} {r.reused if r.variants else '-':>7}  {r.note}")

    prompt_row, chunker_row = rows[3], rows[4]
    per_variant = naive.wall_s / naive.variants
    new_prompt_variants = prompt_row.variants - cold.variants
    new_chunker_variants = chunker_row.variants - prompt_row.variants
    resumed_wall = killed.wall_s + resumed.wall_s
    print()
    print("ratios (same run, same machine):")
    print(f"  naive / cold wall                         {naive.wall_s / cold.wall_s:6.2f}")
    print(f"  warm / cold wall                          {rows[2].wall_s / cold.wall_s:6.3f}   ({rows[2].calls} model calls)")
    print(f"  +1 prompt: model calls / (new variants x questions) = {prompt_row.calls} / ({new_prompt_variants} x {q}) "
          f"= {prompt_row.calls / max(1, new_prompt_variants * q):.2f}")
    print(f"  +1 chunker: model calls / (new variants x questions) = {chunker_row.calls} / ({new_chunker_variants} x {q}) "
          f"= {chunker_row.calls / max(1, new_chunker_variants * q):.2f}")
    print(f"  +1 prompt wall / naive re-run of its {prompt_row.variants} variants (est. {prompt_row.variants} x "
          f"{per_variant:.1f}s = {prompt_row.variants * per_variant:.1f}s)   {prompt_row.wall_s / (prompt_row.variants * per_variant):6.3f}")
    print(f"  killed + resumed: model calls / cold      {total_calls / max(1, cold.calls):6.2f}   ({total_calls} vs {cold.calls})")
    print(f"  killed + resumed: wall / cold wall without index time {resumed_wall / (cold.wall_s - cold.index_s):6.2f}   "
          f"({resumed_wall:.1f}s vs {cold.wall_s - cold.index_s:.1f}s; f opens the cold run's indexes and includes two "
          "process start-ups and model loads)")
    print(f"  killed + resumed: wall / the cold run as one workbench run process (f0) {resumed_wall / one_process.wall_s:6.2f}   "
          f"({resumed_wall:.1f}s vs {one_process.wall_s:.1f}s; both open b)'s indexes and start fresh processes)")
    print(f"  cold sweep wall / model compute inside it {cold.wall_s / cold.compute_s:6.2f}   "
          f"({cold.wall_s:.1f}s = {cold.index_s:.1f}s indexes + {cold.compute_s:.1f}s generation + "
          f"{cold.wall_s - cold.index_s - cold.compute_s:.1f}s retrieval, scoring and tracking)")
    print(f"  cold sweep wall without its index builds / model compute inside it "
          f"{(cold.wall_s - cold.index_s) / cold.compute_s:6.2f}")
    print(f"  naive wall / model compute inside it      {naive.wall_s / naive.compute_s:6.2f}")
    print(f"  naive / (cold's index builds + model compute) {naive.wall_s / (cold.index_s + cold.compute_s):6.2f}   "
          "(what naive / cold would be if the cold sweep had no overhead at all)")


if __name__ == "__main__":
    main()
