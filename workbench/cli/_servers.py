"""``workbench ui`` and ``workbench server``: MLflow's UI over this project's store, and a team's tracking server. Each
checks its address and store first, then becomes the ``mlflow`` process.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.tracking import check_store, shown_uri


def _cmd_ui(args: argparse.Namespace) -> int:
    from workbench.config import settings

    cfg = settings(tracking_uri=args.tracking_uri)
    if cfg.tracking_uri.startswith(("http://", "https://")):  # `mlflow ui` cannot read a server: it ended in a traceback
        raise WorkbenchError(f"{shown_uri(cfg.tracking_uri)} is a tracking server, which is its own UI — browse it; "
                             "workbench ui serves a store on disk or in a database (--tracking-uri sqlite:///...)")
    _check_port(args.host, args.port)
    cfg.artifact_root.mkdir(parents=True, exist_ok=True)
    print(f"MLflow UI for {shown_uri(cfg.tracking_uri)} on http://{args.host}:{args.port}  (Ctrl+C to stop)", flush=True)
    _exec_mlflow(["ui", "--default-artifact-root", cfg.artifact_root.as_uri(), "--host", args.host, "--port", str(args.port)],
                 store=cfg.tracking_uri, jobs=False)
    return 0  # pragma: no cover - execve does not return


def _cmd_server(args: argparse.Namespace) -> int:
    import socket

    from workbench.config import settings

    cfg = settings()
    store = _server_store(args.backend_store_uri, args.tracking_uri) or f"sqlite:///{cfg.root / 'mlruns' / 'mlflow.db'}"
    check_store(store, must_exist=False)  # a refused login: one line now, not MLflow's 2 minutes of retries and a traceback
    _check_port(args.host, args.port)
    # beside the server's sqlite store, where sweeps logged straight into that file keep theirs; not from the environment
    destination = args.artifacts_destination or str(settings(tracking_uri=store).artifact_root)
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
    # what users set: a wildcard bind address is not an address they can reach, the machine's name is
    wildcard = args.host in ("0.0.0.0", "::", "")
    reachable = _machine_name(socket.getfqdn(), socket.gethostname()) if wildcard else args.host
    extra = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    options = ["server", "--artifacts-destination", destination, "--serve-artifacts", "--host", args.host, "--port", str(args.port),
               *(["--workers", str(args.workers)] if args.workers else []), *extra]
    if wildcard and "--allowed-hosts" not in extra and not os.environ.get("MLFLOW_SERVER_ALLOWED_HOSTS"):
        # MLflow answers only requests addressed to localhost or a private IP by default ("Invalid Host header"): the
        # name printed below must be one it answers
        from mlflow.server.security_utils import get_default_allowed_hosts

        options += ["--allowed-hosts", ",".join([*get_default_allowed_hosts(), reachable, f"{reachable}:{args.port}"])]
    shown = shown_uri(store)  # never print the store's password
    print(f"MLflow server on {shown}, artifacts in {destination}. Point sweeps and notebooks at it with:\n"
          f"  MLFLOW_TRACKING_URI=http://{reachable}:{args.port}", flush=True)
    _exec_mlflow(options, store=store)
    return 0  # pragma: no cover - execve does not return


def _check_port(host: str, port: int) -> None:
    """The address ``ui`` and ``server`` are to listen on must be free: MLflow printed "Address already in use" among its
    startup lines and exited 0, after workbench had printed the address, where another server (an earlier UI) answered.

    Raises:
        WorkbenchError: ``host`` is no address of this machine, or ``port`` is taken there.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn, which serves both, binds
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to it
        try:
            probe.bind((host, port))
        except socket.gaierror as exc:
            raise WorkbenchError(f"--host {host}: not an address of this machine ({exc.strerror}) — give one of its "
                                 "addresses, 127.0.0.1, or 0.0.0.0 for every one") from None
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:  # EADDRNOTAVAIL: another machine's address; EACCES: a port below 1024
                raise WorkbenchError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}) — give an address of "
                                     "this machine (127.0.0.1, or 0.0.0.0 for every one) and a port from 1024") from None
            raise WorkbenchError(f"--port {port}: {host}:{port} is in use (an MLflow UI or server already running?) — stop it, "
                                 "or pass another --port") from None


def _server_store(backend_store_uri: str | None, tracking_uri: str | None) -> str | None:
    """The store ``workbench server`` keeps its runs in: ``--backend-store-uri``, else ``--tracking-uri`` (the store
    ``ui`` would serve; $MLFLOW_TRACKING_URI is not read, on a server machine it is often the server's own address),
    else $MLFLOW_BACKEND_STORE_URI; None for the project's sqlite store.

    Raises:
        WorkbenchError: both options name different stores, or ``--tracking-uri`` is a tracking server's address.
    """
    given = (tracking_uri or "").strip()  # it was ignored: the server created and served the project's own store
    if given and backend_store_uri and given != backend_store_uri:
        raise WorkbenchError(f"--tracking-uri {shown_uri(given)} and --backend-store-uri {shown_uri(backend_store_uri)} name two "
                             "stores — give the server's store once, with --backend-store-uri")
    if given.startswith(("http://", "https://")) and not backend_store_uri:
        raise WorkbenchError(f"--tracking-uri {shown_uri(given)} is a tracking server, not a store another server can keep its "
                             "runs in — give a database with --backend-store-uri, e.g. postgresql://user@host:5432/mlflow or "
                             "sqlite:///mlflow.db")
    return backend_store_uri or given or os.environ.get("MLFLOW_BACKEND_STORE_URI")


def _machine_name(fqdn: str, hostname: str) -> str:
    """The name other machines reach this one by: its fully qualified name, or its host name where the fully
    qualified one is only a loopback name (``/etc/hosts`` maps the host name to 127.0.0.1 on many machines)."""
    loopback = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
    return hostname if fqdn in loopback or fqdn.startswith("localhost.") else fqdn


def _exec_mlflow(options: list[str], *, store: str, jobs: bool = True) -> None:
    """Become ``python -m mlflow OPTIONS`` over the tracking store ``store``.

    The store URI goes through the environment (``mlflow ui`` and ``mlflow server`` read MLFLOW_BACKEND_STORE_URI), so
    its password is not in the process's command line, where ``ps`` shows it to every user of the machine.
    ``jobs=False``: without MLflow's job runner, unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION says otherwise. It runs
    the jobs MLflow's UI launches (scorers, prompt optimisation) in 8 more processes, 1.3 GB and 25 s of CPU at start
    on 2 cores: a UI to compare runs does without them.
    """
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": store}
    if not jobs:
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.execve(sys.executable, [sys.executable, "-m", "mlflow", *options], env)
