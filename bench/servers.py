"""Start a real gunicorn server (ours or the baseline) on a free port for a benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(kind: str, database_url: str, workers: int, *,  # noqa: ANN201
            start_timeout: float = 60.0, env: dict[str, str] | None = None,
            pid_out: bool = False):
    """kind: 'service' (moderation serve) or 'baseline' (one plain INSERT). Yields the base
    URL, or (URL, the master's pid) with PID_OUT."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "MODERATION_LOG_LEVEL": "WARNING",
           "MODERATION_SUBMIT_RATE_LIMIT": "1000000/minute", "PYTHONPATH": str(ROOT),
           **(env or {})}
    if kind == "service":
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                   "--workers", str(workers)]
    else:
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                   f"127.0.0.1:{port}", "--log-level", "warning",
                   "bench.baseline_wsgi:app"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(base + ("/healthz" if kind == "service" else "/"),
                                       timeout=1)
                break
            except urllib.error.HTTPError:
                break  # the baseline has no "/" route: a 404 means it is up
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.2)
        yield (base, process.pid) if pid_out else base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
