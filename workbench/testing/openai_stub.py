"""A real OpenAI-compatible HTTP server on loopback, for tests and benchmarks of hosted-model paths without a key.

It speaks ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` like the real API, so the real ``openai:`` LangChain provider (with
``OPENAI_BASE_URL`` pointing here) goes through its real client, HTTP stack, timeouts and our retries. Its answer is
a pure function of the request (the first line of the context after "Context:", else an echo of the question; a
structured call, ``response_format`` json_schema or ``tools``, gets the simplest JSON its schema accepts unless that
line is JSON, so a ragas judge's calls all answer), so results are identical however many workers call it; ``delay_s``
makes every call take that long; ``script`` decides per request whether to fail (status, headers) or drop the
connection first. Embeddings are feature-hashed words of each input as sent
(``embedding_inputs`` keeps them: texts, or token ids when a client sends those); ``chat_bodies`` keeps each chat
request's JSON body as sent (the sampler settings a client passed, its max_tokens, seed...).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DROP", "OpenAIStub", "Reply"]

# (status, headers, seconds to wait before answering) for one request; status 200 answers normally, DROP closes the
# connection without a reply (a proxy or load balancer that went away mid-call)
Reply = tuple[int, dict[str, str], float]
DROP = 0


def _answer(messages: list[dict[str, Any]]) -> str:
    text = str(messages[-1].get("content", "")) if messages else ""
    if "Context:" in text:
        after = text.split("Context:", 1)[1].strip().splitlines()
        if after and after[0].strip():
            return after[0].strip()[:200]
    return f"echo: {text.strip().splitlines()[-1][:200]}" if text.strip() else "echo:"


def _instance(schema: Any) -> Any:
    """The simplest value a JSON schema accepts (the last of an ``enum``: 1 of a 0/1 verdict), for a structured call."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][-1]
    if "const" in schema:
        return schema["const"]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return _instance(options[0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: _instance(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_instance(schema.get("items", {})) for _ in range(max(int(schema.get("minItems", 1)), 1))]
    return {"string": "stub", "integer": 1, "number": 1.0, "boolean": True}.get(str(kind))


def _structured(body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """The answer to a structured call, as OpenAI sends it: JSON content for a ``response_format`` json_schema, a tool
    call for ``tools`` (its function's arguments); ``(None, [])`` for a plain call, and for a structured one whose
    answer the test scripted as a JSON line after "Context:" (answered as it is, even cut short)."""
    if _answer(body.get("messages", [])).startswith("{"):
        return None, []
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(_instance(response_format.get("json_schema", {}).get("schema", {}))), []
    tools = body.get("tools") or []
    if tools:
        function = tools[0].get("function", {})
        arguments = json.dumps(_instance(function.get("parameters", {})))
        return None, [{"id": "call_stub", "type": "function", "function": {"name": function.get("name", "f"), "arguments": arguments}}]
    if response_format.get("type") == "json_object":
        return "{}", []
    return None, []


class OpenAIStub:
    """Start with ``with OpenAIStub(delay_s=0.3) as stub:``; ``stub.base_url`` is the ``OPENAI_BASE_URL`` to use.

    Args:
        delay_s: how long every answer takes.
        script: ``script(n) -> Reply`` for the n-th request (0-based), e.g. ``lambda n: (429, {"Retry-After": "0"}, 0)
            if n == 0 else (200, {}, 0)``; status ``DROP`` closes the connection without a reply. Default: always answer.
        usage: send token counts (``usage``) with each answer; False answers without, as some OpenAI-compatible
            servers and proxies do; a dict is sent as the ``usage`` of every answer, as it is (``{"prompt_tokens":
            None, ...}``, as a server that did not count sends).
        error_code: the ``code`` and ``type`` of every error reply's body (default: its status), e.g.
            ``"insufficient_quota"`` as OpenAI sends with a 429 when the account has no credit left.
        finish_reason: why every answer ended (``length``: cut at max_tokens; ``content_filter``...).
    """

    def __init__(
        self, *, delay_s: float = 0.0, script: Callable[[int], Reply] | None = None, usage: bool | dict[str, Any] = True, error_code: str | None = None,
        finish_reason: str = "stop",
    ) -> None:
        self.delay_s = delay_s
        self.finish_reason = finish_reason
        self.error_code = error_code
        self.script = script
        self.usage = usage
        self.requests = 0
        self.embedding_inputs: list[Any] = []
        self.chat_bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                """``GET /stats``: the counters, for a stub running in another process (``python -m``)."""
                if not self.path.rstrip("/").endswith("/stats"):
                    self._send(404, b"{}")
                    return
                with stub._lock:
                    payload = json.dumps({"requests": stub.requests, "max_in_flight": stub.max_in_flight}).encode()
                self._send(200, payload)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    n = stub.requests
                    stub.requests += 1
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                status, headers, wait = stub.script(n) if stub.script else (200, {}, 0.0)
                time.sleep(stub.delay_s + wait)
                with stub._lock:
                    stub.statuses.append(status)
                    stub.in_flight -= 1
                if status == DROP:
                    self.close_connection = True
                    return
                if status != 200:
                    payload = json.dumps({"error": {"message": f"stub status {status}", "type": stub.error_code or "stub", "code": stub.error_code or status}}).encode()
                elif self.path.rstrip("/").endswith("/embeddings"):
                    payload = json.dumps(stub._embeddings(body)).encode()
                else:
                    with stub._lock:
                        stub.chat_bodies.append(body)
                    messages = body.get("messages", [])
                    content, tool_calls = _structured(body)
                    answer = _answer(messages) if content is None and not tool_calls else content or ""
                    message: dict[str, Any] = {"role": "assistant", "content": answer if not tool_calls else None}
                    if tool_calls:
                        message["tool_calls"] = tool_calls
                    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
                    reply: dict[str, Any] = {
                        "id": f"chatcmpl-stub-{n}", "object": "chat.completion", "created": int(time.time()), "model": body.get("model", "stub"),
                        "choices": [{"index": 0, "message": message, "finish_reason": stub.finish_reason if not tool_calls else "tool_calls"}],
                    }
                    if isinstance(stub.usage, dict):
                        reply["usage"] = stub.usage
                    elif stub.usage:
                        said = len((tool_calls[0]["function"]["arguments"] if tool_calls else answer).split())
                        reply["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": said, "total_tokens": prompt_tokens + said}
                    payload = json.dumps(reply).encode()
                self._send(status, payload, headers)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        from workbench.testing import HashingEmbedder

        inputs = body.get("input", [])
        inputs = inputs if isinstance(inputs, list) else [inputs]
        with self._lock:
            self.embedding_inputs.extend(inputs)
        vectors = HashingEmbedder(dim=64).embed([x if isinstance(x, str) else json.dumps(x) for x in inputs])
        return {
            "object": "list", "model": body.get("model", "stub"),
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.testing.openai_stub --delay 0.3``: serve until killed; prints the base URL first.

    A benchmark runs the stub in its own process like this, so that answering does not share the measured process's
    interpreter (a hosted provider never does); ``GET <base URL>/stats`` returns its counters.
    """
    import argparse

    parser = argparse.ArgumentParser(description="An OpenAI-compatible stub server on loopback.")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer takes")
    args = parser.parse_args(argv)
    with OpenAIStub(delay_s=args.delay) as stub:
        print(stub.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
