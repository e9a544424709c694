"""Indexes on a Chroma server (``chroma run``), shared by every worker and machine of a team, and the address a
server's URL names."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from workbench.config import shown_uri
from workbench.errors import WorkbenchError
from workbench.pipeline._chroma import ChromaStore

__all__ = ["ChromaServerIndexStore", "chroma_server_address"]

# one request to a Chroma server: a batch of 2000 chunks is added in seconds; a server silent this long is stuck
_SERVER_TIMEOUT_S = 120.0


def _server_base(url: str) -> str:
    """``scheme://host:port/path`` of a Chroma server's URL (pure): no login, the default port written out."""
    parts = urlsplit(url.strip())
    port = parts.port
    where = parts.netloc.rpartition("@")[2].lower() + ("" if port else f":{443 if parts.scheme == 'https' else 8000}")  # [::1] keeps its brackets
    return f"{parts.scheme}://{where}{parts.path.rstrip('/')}"


def chroma_server_address(url: str) -> str | None:
    """The address of the Chroma server ``url`` names, the same whichever way a machine writes it (pure): no login,
    the host in lower case, the default port written out (``http://chroma.internal:8000``). None for a URL that is not
    an http(s) URL of a host. The sweeps using a server are tagged with it, so that a teammate's ``workbench cache
    clear --indexes`` can see them."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return None
    return _server_base(url)


class ChromaServerIndexStore(ChromaStore):
    """Collections on a Chroma server (``chroma run``), shared by every worker and machine of a team.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8000`` (``https://`` for TLS; the port defaults to 8000, 443 with TLS).
        timeout_s: how long one request waits for the server to connect or answer before it fails.

    Raises:
        WorkbenchError: the URL is not an http(s) URL, or no Chroma server answers there (or none within ``timeout_s``).
    """

    def __init__(self, url: str, *, timeout_s: float = _SERVER_TIMEOUT_S) -> None:
        import chromadb
        import httpx
        from chromadb.config import Settings

        parts = urlsplit(url)
        self.url = shown_uri(url)  # for messages: a password in the URL is never printed nor logged
        try:
            port = parts.port
        except ValueError:  # a port that is not a number
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise WorkbenchError(f"index store url {self.url!r}: expected http://host:port or https://host:port")
        tls = parts.scheme == "https"
        # the path too (a proxy serving Chroma under /chroma): the host alone asked the proxy's root for another server
        base = _server_base(url)
        self.address = base  # which server, as every machine names it: no login, the default port written out
        login = {"Authorization": "Basic " + base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()).decode()}
        headers = login if parts.username or parts.password else None
        self._check_answers(f"{base}/api/v2/heartbeat", headers, timeout_s)
        try:
            client = chromadb.HttpClient(host=base, port=port or (443 if tls else 8000), ssl=tls, headers=headers,
                                         settings=Settings(anonymized_telemetry=False))
        except ValueError as exc:
            raise self._unreachable(exc) from None
        # chromadb's HTTP client waits for an answer without end (httpx timeout=None): a server that hung mid-sweep left
        # every variant waiting in its search for good. The session is this store's own (chromadb gives each HttpClient a
        # system of its own), so is the timeout: another store with another timeout_s does not change it.
        client._server._session.timeout = httpx.Timeout(timeout_s)
        super().__init__(client)

    def _check_answers(self, heartbeat: str, headers: dict[str, str] | None, timeout_s: float) -> None:
        """One line for a port that takes the connection but never answers (a stuck server, a tunnel or port-forward
        whose far end hangs): chromadb's first request waited for it without end, before the sweep had logged anything.
        Any other failure is left to chromadb's own first request, which ``_unreachable`` words."""
        import httpx

        try:
            httpx.get(heartbeat, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise WorkbenchError(
                f"the Chroma server at {self.url} took the connection but did not answer within {timeout_s:g} s "
                f"({type(exc).__name__}) — restart it if it is stuck, or check that a Chroma server is what listens there"
            ) from None
        except httpx.HTTPError:
            return

    @contextlib.contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        """A server that went away (stopped, restarted, the network) while ``what`` was a bare ``ConnectError:
        [Errno 111] Connection refused`` in each variant's error, naming neither the server nor what to do."""
        import httpx

        try:
            yield
        except httpx.TransportError as exc:
            raise WorkbenchError(
                f"the Chroma server at {self.url} did not answer while {what} ({type(exc).__name__}: {exc}) — start it again "
                "(or check the network) and re-run the same command: the variants logged before are reused"
            ) from None

    def _unreachable(self, exc: Exception) -> WorkbenchError:
        """One line for a server that cannot be reached (chromadb's "Could not connect to a Chroma server") or that
        answers as something else (a web server's 404 page, a proxy's login page: the whole page was the message)."""
        reason = " ".join(re.sub(r"<[^>]*>", " ", str(exc)).split())  # a page's text, without its markup
        if reason.startswith("Could not connect"):
            return WorkbenchError(
                f"no Chroma server answers at {self.url} ({reason}) — start one with `chroma run --path DIR --host HOST --port PORT`, "
                "or drop index_store / WORKBENCH_CHROMA_URL to use the local index store"
            )
        shown = reason if len(reason) <= 120 else reason[:117] + "..."
        return WorkbenchError(
            f"{self.url} answers, but not as a Chroma server this workbench can use ({type(exc).__name__}: {shown}) — check the "
            "URL's host, port and path (a Chroma server's /api/v2/heartbeat answers), or drop index_store / WORKBENCH_CHROMA_URL "
            "to use the local index store"
        )
