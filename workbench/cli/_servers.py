"""``workbench ui`` and ``workbench server``: MLflow's UI over this project's store, and a team's tracking server. Each
checks its address and store first, then runs the ``mlflow`` process and every process it starts in a process group of
their own, which it ends as a whole when it is stopped.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.cli._group_guard import start_guarded
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
    return _run_mlflow(["ui", "--default-artifact-root", cfg.artifact_root.as_uri(), "--host", args.host, "--port", str(args.port)],
                       store=cfg.tracking_uri, jobs=False)


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
        _check_writable(destination)
    # what users set: a wildcard bind address is not an address they can reach, the machine's name is
    wildcard = args.host in ("0.0.0.0", "::", "")
    reachable = _machine_name(socket.getfqdn(), socket.gethostname()) if wildcard else args.host
    extra = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    _check_app(extra)
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
    return _run_mlflow(options, store=store)


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


def _check_writable(destination: str) -> None:
    """The server writes every sweep's artifacts into ``destination``: one it cannot (a read-only mount, another user's
    folder) started the server without a word, and each sweep then ended on its first artifact with "answered with
    errors (HTTP 500 to every try)". Probed with a file that has no name (``O_TMPFILE``), so nothing is left there.

    Raises:
        WorkbenchError: no file can be made in ``destination``.
    """
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=destination):
            pass
    except OSError as exc:
        raise WorkbenchError(f"--artifacts-destination {destination}: the server cannot write there ({exc.strerror or exc}) — "
                             "give a folder the server's user can write (a read-write mount)") from None


def _check_app(mlflow_args: list[str]) -> None:
    """An ``--app-name`` among the options for MLflow must be one of its server apps, and load: its login app
    (``basic-auth``) needs Flask-WTF (``mlflow[auth]``), without which the server ended in a traceback after its
    startup lines.

    Raises:
        WorkbenchError: MLflow has no app of that name, or cannot import it.
    """
    import importlib
    import warnings
    from importlib.metadata import entry_points

    name = next((a.split("=", 1)[1] for a in mlflow_args if a.startswith("--app-name=")), None)
    if name is None and "--app-name" in mlflow_args[:-1]:
        name = mlflow_args[mlflow_args.index("--app-name") + 1]
    if name is None:
        return
    apps = {e.name: e.value for e in entry_points(group="mlflow.app")}
    if name not in apps:
        raise WorkbenchError(f"--app-name {name}: MLflow has no such server app (it has: {', '.join(sorted(apps)) or 'none'}) "
                             "— give one of them")
    try:
        with warnings.catch_warnings():  # MLflow's server modules warn of Starlette's deprecations as they load
            warnings.simplefilter("ignore")
            importlib.import_module(apps[name].split(":", 1)[0])
    except ImportError as exc:
        fix = "pip install 'mlflow[auth]'" if name == "basic-auth" else "install the package it names"
        first = str(exc).split(". ", 1)[0]
        raise WorkbenchError(f"--app-name {name}: MLflow cannot load this app ({first}) — {fix} where the server runs") from None


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


def _run_mlflow(options: list[str], *, store: str, jobs: bool = True) -> int:
    """Run ``python -m mlflow OPTIONS`` over the tracking store ``store`` until it ends or this process is stopped.

    The store URI goes through the environment (``mlflow ui`` and ``mlflow server`` read MLFLOW_BACKEND_STORE_URI), so
    its password is not in the process's command line, where ``ps`` shows it to every user of the machine.
    ``jobs=False``: without MLflow's job runner, unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION says otherwise. It runs
    the jobs MLflow's UI launches (scorers, prompt optimisation) in 8 more processes, 1.3 GB and 25 s of CPU at start
    on 2 cores: a UI to compare runs does without them.

    Returns:
        0 when stopped by SIGINT (Ctrl+C), SIGTERM or SIGHUP, as a server is meant to stop; else mlflow's exit code.
    """
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": store}
    if not jobs:
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return _supervise([sys.executable, "-m", "mlflow", *options], env)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_GRACE_S = 5.0  # for mlflow to stop its web server (uvicorn ends idle keep-alive connections at once)


def _supervise(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` in a process group of its own; a stop signal to this process goes to the whole group, and whatever
    is left of the group once ``cmd`` has ended (or ``_GRACE_S`` after the stop) is ended too.

    This process became mlflow (execve) before: mlflow passes SIGTERM and SIGINT to its web server only, not to its job
    runner, whose 7 huey consumers outlived it, and a signal to the whole group left mlflow running beside its dead job
    runner while that runner's threads started consumers again. A second stop signal ends the group at once. A guard at
    the head of the group ends it when this process is killed (SIGKILL, which no handler sees): it ran on, holding the port.
    """
    stops: list[float] = []
    group: list[int] = []

    def on_stop(signum: int, _frame: object) -> None:
        stops.append(time.monotonic())
        if group:
            _signal_group(group[0], signal.SIGTERM if signum == signal.SIGHUP else signum)

    previous = {sig: signal.signal(sig, on_stop) for sig in _STOP_SIGNALS}
    try:
        proc = start_guarded(cmd, env=env, process_group=0)  # the group ends with this process, even a SIGKILLed one
        group.append(proc.pid)
        try:
            if stops:  # stopped while starting it
                _signal_group(proc.pid, signal.SIGTERM)
            while proc.poll() is None:
                if stops and (len(stops) > 1 or time.monotonic() - stops[0] > _GRACE_S):
                    break
                time.sleep(0.1)
        finally:
            _end_group(proc)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stops else (proc.returncode or 0)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """End every process of ``proc``'s group: SIGTERM, then SIGKILL to what is left after 3 s."""
    deadline = time.monotonic() + 3.0
    if not _signal_group(proc.pid, signal.SIGTERM):
        return
    while time.monotonic() < deadline:
        proc.poll()  # reaps mlflow itself; the processes it leaves behind are reaped by init
        if not _group_alive(proc.pid):
            return
        time.sleep(0.1)
    _signal_group(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL ends a process
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs: one that ended but that no one reaped yet (init in a container
    may never reap) does not count, where ``/proc`` tells them apart."""
    if not os.path.isdir("/proc"):
        return _signal_group(pgid, 0)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:  # the fields after the command's name: state, parent, group
                state, _parent, group = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue  # it ended as we looked
            if int(group) == pgid and state != "Z":
                return True
    return False
