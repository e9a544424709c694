"""Benchmark: would decoding several questions at once in llama.cpp make the local model's answers cheaper?

The sweep answers one question at a time through `LlamaCppGenerator` (prompt evaluated from an empty KV cache, so an
answer never depends on what was asked before it). llama.cpp can also decode several sequences in one batch. This
benchmark answers the same questions both ways with the embedded Gemma 3 270M, greedy, with the quickstart's grounded
prompt over the questions' labelled source documents (cut to about three 1000-character chunks, like k=3 over the
quickstart's recursive chunker), the completion stops and max_tokens of the quickstart, and prints:

  one at a time   the workbench's own generator, question after question (the baseline)
  batched        the same prompts, each prompt evaluated on its own sequence, then all live sequences decoded
                 together, one token each per llama.cpp call, until each meets a stop, end-of-sequence or max_tokens

and the ratio of the two wall times, and how many answers came out identical.

    .venv/bin/python bench/batched_decoding.py [--questions 16] [--batch 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import workbench as wb
from workbench.datasets import load_corpus, load_dataset
from workbench.models import GEMMA_ID, GenerationParams, load_generator
from workbench.models._local import COMPLETION_STOPS
from workbench.prompts import RenderedPrompt

ROOT = Path(__file__).resolve().parents[1]
CONTEXT_CHARS = 3000


def prompts(questions: int) -> list[str]:
    corpus = {doc.id: doc.text for doc in load_corpus("python-reference").documents}
    cases = [c for c in load_dataset(ROOT / "datasets/python_docs.jsonl").cases if c.source_ids][:questions]
    template = wb.PromptTemplate("grounded", (ROOT / "experiments/prompts/grounded.txt").read_text(encoding="utf-8"))
    return [
        template.render(question=c.question, context="\n\n".join(corpus[s] for s in c.source_ids)[:CONTEXT_CHARS]).text
        for c in cases
    ]


def one_at_a_time(texts: list[str], max_tokens: int) -> tuple[list[str], float]:
    generator = load_generator(GEMMA_ID)
    params = GenerationParams(temperature=0.0, max_tokens=max_tokens)
    generator.generate(RenderedPrompt("Hello", (("human", "Hello"),)), params)  # loads the model
    start = time.perf_counter()
    answers = [generator.generate(RenderedPrompt(t, (("human", t),)), params).text for t in texts]
    return answers, time.perf_counter() - start


def batched(texts: list[str], batch_size: int, max_tokens: int) -> tuple[list[str], float]:
    import llama_cpp

    from workbench.models._local import _trim, llama_threads

    path = str(load_generator(GEMMA_ID).path).encode()  # type: ignore[attr-defined]
    model = llama_cpp.llama_model_load_from_file(path, llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 2048 * batch_size, 2048, 512
    params.n_seq_max, params.n_threads, params.n_threads_batch = batch_size, llama_threads(), llama_threads()  # as the generator
    ctx = llama_cpp.llama_init_from_model(model, params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab, eos = llama_cpp.llama_vocab_n_tokens(vocab), llama_cpp.llama_vocab_eos(vocab)
    batch = llama_cpp.llama_batch_init(2048, 0, batch_size)

    def tokenize(text: str) -> list[int]:
        raw = text.encode()
        out = (llama_cpp.llama_token * (len(raw) + 8))()
        n = llama_cpp.llama_tokenize(vocab, raw, len(raw), out, len(out), True, False)
        return list(out[:n])

    def piece(token: int) -> bytes:
        buf = (llama_cpp.ctypes.c_char * 64)()
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
        return bytes(buf[:n])

    def add(token: int, pos: int, seq: int, logits: bool) -> None:
        i = batch.n_tokens
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
        batch.seq_id[i][0] = seq
        batch.n_tokens += 1

    def argmax(i: int) -> int:
        return int(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).argmax())

    answers: list[str] = []
    start = time.perf_counter()
    for group_start in range(0, len(texts), batch_size):
        group = texts[group_start:group_start + batch_size]
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        nxt, pos, out = [], [], [b"" for _ in group]
        for seq, text in enumerate(group):
            tokens = tokenize(text)
            batch.n_tokens = 0
            for p, token in enumerate(tokens):
                add(token, p, seq, p == len(tokens) - 1)
            assert llama_cpp.llama_decode(ctx, batch) == 0
            nxt.append(argmax(batch.n_tokens - 1))
            pos.append(len(tokens))
        live, used = list(range(len(group))), [0] * len(group)
        while live:
            still = []
            for seq in live:
                if nxt[seq] == eos:
                    continue
                out[seq] += piece(nxt[seq])
                used[seq] += 1
                text = out[seq].decode("utf-8", errors="ignore")
                if used[seq] < max_tokens and not any(s in text for s in COMPLETION_STOPS):
                    still.append(seq)
            live = still
            batch.n_tokens = 0
            for seq in live:
                add(nxt[seq], pos[seq], seq, True)
                pos[seq] += 1
            if live:
                assert llama_cpp.llama_decode(ctx, batch) == 0
                for i, seq in enumerate(live):
                    nxt[seq] = argmax(i)
        for raw in out:
            text = raw.decode("utf-8", errors="replace")
            cut = min([text.index(s) for s in COMPLETION_STOPS if s in text], default=len(text))
            answers.append(_trim(text[:cut], "completion"))
    wall = time.perf_counter() - start
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return answers, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    texts = prompts(args.questions)
    print(f"{len(texts)} questions, grounded prompt, Gemma 3 270M, greedy, max_tokens {args.max_tokens}", flush=True)
    single, single_s = one_at_a_time(texts, args.max_tokens)
    print(f"  one at a time: {single_s:.1f}s", flush=True)
    grouped, grouped_s = batched(texts, args.batch, args.max_tokens)
    print(f"  batched, {args.batch} sequences at once: {grouped_s:.1f}s", flush=True)
    same = sum(a == b for a, b in zip(single, grouped))
    print(f"\none at a time / batched wall: {single_s / grouped_s:.2f}")
    print(f"answers identical to the one-at-a-time ones: {same} of {len(texts)}")


if __name__ == "__main__":
    main()
