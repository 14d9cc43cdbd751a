"""Fixtures for the fault tests: servers that are always stopped, and a private PostgreSQL
cluster that a test may stop and start (never the machine's shared server)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import REQUIRE_POSTGRES
from .harness import Served, free_port

PG_BIN = Path(os.environ.get("FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
AS_ROOT = os.geteuid() == 0


def as_cluster_owner(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if AS_ROOT else list(command)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """serve(env, workers) starts `moderation serve`; every server is stopped afterwards."""
    started: list[Served] = []

    def start(env: dict[str, str], workers: int) -> Served:
        server = Served(env, workers, tmp_path / f"serve-{len(started)}.log")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory, run as the postgres user."""

    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str, check: bool = True, timeout: float = 60) -> None:
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=120")
        done = subprocess.run(
            as_cluster_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                             "-l", str(self.base / "server.log"), "-o", options, "-t", "30",
                             *args),
            capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n"
                               f"{self.log_tail()}")

    def start(self) -> None:
        self.pg_ctl("-w", "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self.pg_ctl("-w", "-m", mode, "stop", check=check)

    def restart(self, mode: str = "fast") -> None:
        self.pg_ctl("-w", "-m", mode, "restart")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.base / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _unavailable(reason: str) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"a private PostgreSQL cluster is required (REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"cannot run a private PostgreSQL cluster: {reason}")


@pytest.fixture
def private_postgres() -> Iterator[Cluster]:
    """initdb into a temporary directory, start on a free loopback port; stopped and
    removed afterwards whatever happens in the test."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        _unavailable(f"initdb/pg_ctl not found in {PG_BIN}")
    if AS_ROOT:
        if shutil.which("runuser") is None:
            _unavailable("running as root, and no runuser to run initdb as the postgres user")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root, and there is no postgres user to run initdb as")
    # not under pytest's tmp_path: the postgres user cannot enter root's 0700 directories
    base = Path(tempfile.mkdtemp(prefix="moderation-faults-pg-"))
    cluster: Cluster | None = None
    try:
        if AS_ROOT:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        done = subprocess.run(
            as_cluster_owner(str(PG_BIN / "initdb"), "-D", str(base / "data"), "--auth=trust",
                             "-U", "postgres", "--no-sync", "--encoding=UTF8",
                             "--locale=C.UTF-8"),
            capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            _unavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        for attempt in range(3):  # the free port may be taken between choosing and binding
            cluster = Cluster(base, free_port())
            try:
                cluster.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        yield cluster
    finally:
        if cluster is not None and cluster.running():
            cluster.stop("immediate", check=False)
        shutil.rmtree(base, ignore_errors=True)
