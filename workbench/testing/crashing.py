"""Models that fail the way native code fails: a segfault, an abort, a memory blow-up, a hang no Python check can see.

They answer ``after`` questions normally (so the answers before the failure reach the cache), then fail on the next
one. Only a worker process survives them: run in the caller's process they take it down, as llama.cpp would.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from workbench.models import Generation, GenerationParams, ModelKind
from workbench.prompts import RenderedPrompt

__all__ = ["CrashingModel"]

Failure = Literal["segfault", "abort", "memory", "hang"]
FAILURE_DELAY_S = 0.5


class CrashingModel:
    """A chat model that answers ``after`` calls, then fails as ``failure`` says.

    ``memory`` allocates until it is stopped (a ``MemoryError`` under a memory cap; without one it stops at
    ``memory_gb`` so a mistake cannot take the machine down); ``hang`` sleeps in libc, where Python signals, deadlines
    and Ctrl+C never reach it.
    """

    kind: ModelKind = "chat"

    def __init__(self, failure: Failure, *, after: int = 1, model_id: str = "testing:crashing", memory_gb: float = 8.0) -> None:
        self.failure = failure
        self.after = after
        self.model_id = model_id
        self.identity = f"{model_id}:{failure}"
        self.memory_gb = memory_gb
        self._calls = 0
        self._returned = 0
        self._answered = threading.Condition()

    def __getstate__(self) -> dict[str, Any]:  # sent to a worker process: a condition does not pickle
        return {k: v for k, v in self.__dict__.items() if k != "_answered"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _answered=threading.Condition())

    def generate(
        self, prompt: RenderedPrompt, params: GenerationParams, *, deadline: float | None = None, json_schema: Mapping[str, Any] | None = None
    ) -> Generation:
        with self._answered:
            self._calls += 1
            call = self._calls
        if call <= self.after:
            text = f"answer {call}: {prompt.messages[-1][1][:40] if prompt.messages else prompt.text[:40]}"
            with self._answered:
                self._returned += 1
                self._answered.notify_all()
            return Generation(text=text, input_tokens=10, output_tokens=5, latency_s=0.001)
        # asked several questions at once, fail only once the answers before this one are back and their caller had a
        # moment to cache them, as a model crashing on its next question would
        with self._answered:
            self._answered.wait_for(lambda: self._returned >= self.after)
        time.sleep(FAILURE_DELAY_S)
        if self.failure == "segfault":
            ctypes.string_at(0)
        elif self.failure == "abort":
            os.kill(os.getpid(), signal.SIGABRT)
        elif self.failure == "memory":
            hoard = []
            for _ in range(int(self.memory_gb * 16)):
                hoard.append(bytearray(64 * 2**20))  # 64 MB at a time, touched: resident, not just reserved
            raise RuntimeError(f"allocated {self.memory_gb} GB without hitting a memory cap")
        elif self.failure == "hang":
            ctypes.CDLL(None).sleep(3600)
        raise AssertionError(f"CrashingModel: unknown failure {self.failure!r}")
