"""The fault tests' harness: real `moderation serve` processes, an HTTP client that reports
transport failures instead of raising, client workloads that record every answer, and the
checks that the event log and the read models hold together afterwards.

Everything is loopback and every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from service import migrate
from service.application.commands import Actor, Context, RegisterArticle
from service.bootstrap import build
from service.config import Settings
from service.db import write_transaction
from service.identity import tokens as api_tokens

ARTICLE = "fault-article"
STARTUP_TIMEOUT = 45
REQUEST_TIMEOUT = 15.0
REASONS = ("profanity", "personal_attack", "threats")

# urllib without any proxy from the environment: these tests only ever talk to loopback
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def moderation_command() -> list[str]:
    script = Path(sys.executable).with_name("moderation")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- HTTP ---------------------------------------------------------------------------------

@dataclass
class Reply:
    """One HTTP exchange. `status` is None when the transport failed; `failure` says how:
    'timeout' (no answer in time) or 'connection' (refused, reset, cut off mid-answer)."""

    status: int | None
    headers: dict[str, str]
    body: Any
    failure: str | None
    detail: str
    started: float
    finished: float
    key: str = ""  # the Idempotency-Key sent, if any

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    def describe(self) -> str:
        if self.status is None:
            return f"{self.failure}: {self.detail}"
        return f"{self.status} {json.dumps(self.body, ensure_ascii=False)[:300]}"


def call(base: str, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method,
        headers={**({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    started = time.monotonic()
    status: int | None = None
    raw, got, failure, detail = b"", {}, None, ""
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, got = response.status, dict(response.headers)
                raw = response.read()
        except urllib.error.HTTPError as error:
            status, got = error.code, dict(error.headers)
            raw = error.read()
    except TimeoutError as exc:
        status, failure, detail = None, "timeout", repr(exc)
    except urllib.error.URLError as exc:
        status, detail = None, repr(exc.reason)
        failure = "timeout" if isinstance(exc.reason, TimeoutError) else "connection"
    except (OSError, http.client.HTTPException) as exc:
        status, failure, detail = None, "connection", repr(exc)
    finished = time.monotonic()
    parsed: Any = None
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
    return Reply(status, {k.lower(): v for k, v in got.items()}, parsed, failure, detail,
                 started, finished)


def is_unavailable(reply: Reply) -> bool:
    """A 503 in our error format, with a Retry-After a client can obey."""
    body = reply.body if isinstance(reply.body, dict) else {}
    retry_after = reply.headers.get("retry-after", "")
    return (reply.status == 503 and body.get("status") == 503
            and body.get("code") == "service_unavailable" and bool(body.get("request_id"))
            and "errors" in body and retry_after.isdigit() and int(retry_after) > 0)


# -- the database, set up and inspected from the test process ------------------------------

@dataclass(frozen=True)
class Tokens:
    moderators: tuple[str, ...]
    auditor: str


def prepare(database_url: str) -> Tokens:
    """Schema at head, the article readers comment on, and tokens for two moderators."""
    settings = Settings(database_url=database_url)
    migrate.upgrade(settings)
    services = build(settings)
    try:
        services.moderation.register_article(
            RegisterArticle(ARTICLE, "Fault tests"), Context(Actor("setup", "admin")))
        with write_transaction(services.engine) as conn:
            made = [api_tokens.create(conn, name=name, role=role, now=services.clock())[1]
                    for name, role in (("mod-a", "moderator"), ("mod-b", "moderator"),
                                       ("auditor", "auditor"))]
    finally:
        services.close()
    return Tokens(moderators=(made[0], made[1]), auditor=made[2])


@dataclass(frozen=True)
class LoggedEvent:
    position: int
    stream_id: str
    version: int
    type: str


def read_log(database_url: str) -> tuple[list[LoggedEvent], int, list[dict]]:
    """Every event, the head row's position, and the remembered idempotency results."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT position, stream_id, version, type FROM events ORDER BY position").all()
            head = conn.exec_driver_sql(
                "SELECT last_position FROM event_store_head WHERE id = 1").scalar_one()
            results = conn.exec_driver_sql(
                "SELECT key, result FROM idempotency_keys").all()
    finally:
        engine.dispose()
    keys = [{"key": k, **(r if isinstance(r, dict) else json.loads(r))} for k, r in results]
    return [LoggedEvent(*r) for r in rows], head, keys


def verify_projections(env: dict[str, str]) -> str:
    """`moderation projections rebuild --verify` must exit 0: read models equal a replay."""
    done = subprocess.run([*moderation_command(), "projections", "rebuild", "--verify"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"projections differ from the log:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# -- the server -----------------------------------------------------------------------------

class Served:
    """`moderation serve` in its own session; the process is gunicorn's master."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path):
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Served:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [*moderation_command(), "serve", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert self.process.poll() is None, f"server exited:\n{self.log_tail()}"
            if (len(self.worker_pids()) == self.workers
                    and call(self.base, "GET", "/readyz", timeout=5).status == 200):
                return self
            assert time.monotonic() < deadline, f"server not ready:\n{self.log_tail()}"
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def worker_pids(self) -> set[int]:
        """Live (not zombie) children of the master: gunicorn's workers."""
        return children(self.pid)

    def wait_for_workers(self, gone: int, timeout: float = 30) -> tuple[set[int], float]:
        """Wait until the master has replaced worker GONE: a full set without it again."""
        started = time.monotonic()
        while True:
            pids = self.worker_pids()
            if gone not in pids and len(pids) == self.workers:
                return pids, time.monotonic() - started
            assert self.alive(), f"the master died:\n{self.log_tail()}"
            assert time.monotonic() - started < timeout, \
                f"worker {gone} not replaced in {timeout}s (workers {pids}):\n{self.log_tail()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_no_crash_logged(self) -> None:
        """No traceback (an unhandled error: a 500 or a dying worker) and no worker timeout."""
        text = self.log_text()
        for sign in ("Traceback", "WORKER TIMEOUT", "[CRITICAL]"):
            assert sign not in text, f"the server logged {sign!r}:\n{self.log_tail()}"


def children(parent: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, ...
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(entry))
    return found


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "MODERATION_LOG_LEVEL": "WARNING",
            # every client is 127.0.0.1: the per-address limit must not be what we measure
            "MODERATION_SUBMIT_RATE_LIMIT": "1000000/minute", **extra}


# -- which worker is doing what (for a well-aimed SIGKILL) ---------------------------------

def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket in this namespace."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            out.append((int(parts[1].rsplit(":", 1)[1], 16), int(parts[2].rsplit(":", 1)[1], 16),
                        parts[3], int(parts[9])))
    return out


def worker_serving_request(server: Served) -> int | None:
    """A worker holding an accepted client connection (sync workers hold one at a time)."""
    accepted = {inode for local, _remote, state, inode in _tcp_sockets()
                if local == server.port and state == "01" and inode}
    for pid in server.worker_pids():
        if _socket_inodes(pid) & accepted:
            return pid
    return None


def sqlite_writer(server: Served, database: Path) -> int | None:
    """The worker inside a write transaction: it holds the writer flock beside the file or
    SQLite's WAL write lock (byte 120 of the -shm file)."""
    wanted = {}
    for suffix, kind in (("-writer.lock", "FLOCK"), ("-shm", "POSIX")):
        with contextlib.suppress(OSError):
            wanted[os.stat(f"{database}{suffix}").st_ino] = kind
    workers = server.worker_pids()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "->" in parts or len(parts) < 8:
            continue  # a waiter, not a holder
        kind, mode, pid, inode, start = parts[1], parts[3], parts[4], parts[5], parts[6]
        ino = int(inode.rsplit(":", 1)[1])
        if mode != "WRITE" or wanted.get(ino) != kind or not pid.isdigit():
            continue
        if (kind == "FLOCK" or start == "120") and int(pid) in workers:
            return int(pid)
    return None


class PostgresWriters:
    """Finds the worker whose PostgreSQL session is in a transaction that has written."""

    def __init__(self, database_url: str):
        self.engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        self.port = sa.make_url(database_url).port or 5432
        self.conn = self.engine.connect()

    def __call__(self, server: Served) -> int | None:
        ports = set(self.conn.exec_driver_sql(
            "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").scalars())
        if not ports:
            return None
        inodes = {inode for local, remote, _state, inode in _tcp_sockets()
                  if local in ports and remote == self.port and inode}
        for pid in server.worker_pids():
            if _socket_inodes(pid) & inodes:
                return pid
        return None

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


# -- client workloads -------------------------------------------------------------------------

@dataclass
class Ledger:
    """What clients sent and what they were told, shared by client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    replies: list[tuple[str, Reply]] = field(default_factory=list)
    acks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unacknowledged: set[str] = field(default_factory=set)
    comment_ids: list[str] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    abort: threading.Event = field(default_factory=threading.Event)  # the test has failed

    def record(self, what: str, reply: Reply) -> None:
        with self.lock:
            self.replies.append((what, reply))

    def acknowledge(self, key: str, comment_id: str) -> None:
        with self.lock:
            if not self.acks[key]:
                self.comment_ids.append(comment_id)
            self.acks[key].append(comment_id)
            self.unacknowledged.discard(key)

    def recent(self, n: int) -> list[str]:
        with self.lock:
            return self.comment_ids[-n:]

    def count(self, what: str, predicate: Callable[[Reply], bool]) -> int:
        with self.lock:
            return sum(1 for w, r in self.replies if w == what and predicate(r))

    def tally(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        with self.lock:
            for what, reply in self.replies:
                out[what][reply.status or reply.failure] += 1
        return dict(out)

    def unexpected(self, allowed: dict[str, set]) -> list[str]:
        """Answers outside ALLOWED ({'submit': {202, 'connection'}, ...})."""
        with self.lock:
            return [f"{what}: {reply.describe()}" for what, reply in self.replies
                    if (reply.status or reply.failure) not in allowed.get(what, set())]


def submission(key: str) -> dict:
    return {"author": {"name": f"Reader {key}", "email": f"{key}@example.org"},
            "body": f"Comment {key}: the report from Baghouz is important."}


def submit_until_acknowledged(base: str, ledger: Ledger, key: str, give_up_at: float,
                              retry_pause: float = 0.05,
                              timeout: Callable[[int], float] = lambda attempt: REQUEST_TIMEOUT,
                              ) -> str | None:
    """POST one comment with its Idempotency-Key until a 202 says it is recorded. Retries
    after transport failures and 503s; any other answer ends the attempt (the test's
    checks report it)."""
    with ledger.lock:
        ledger.unacknowledged.add(key)
    attempt = 0
    while time.monotonic() < give_up_at and not ledger.abort.is_set():
        reply = call(base, "POST", f"/v1/articles/{ARTICLE}/comments", submission(key),
                     {"Idempotency-Key": key}, timeout=timeout(attempt))
        reply.key = key
        ledger.record("submit", reply)
        attempt += 1
        if reply.status == 202:
            ledger.acknowledge(key, reply.body["id"])
            return reply.body["id"]
        if reply.status is not None and reply.status != 503:
            return None
        time.sleep(retry_pause)
    return None


def submitter(base: str, ledger: Ledger, name: str, stop: threading.Event,
              give_up_at: float, retry_pause: float = 0.05) -> None:
    """New comments one after another; a key is retried until acknowledged, even after
    STOP, so that every key ends up acknowledged (or the deadline passes)."""
    n = 0
    while not stop.is_set() and time.monotonic() < give_up_at:
        submit_until_acknowledged(base, ledger, f"{name}-{n}", give_up_at, retry_pause)
        n += 1


def moderator(base: str, token: str, ledger: Ledger, stop: threading.Event,
              seed: int) -> None:
    """Read a recent comment and approve or reject it on the version read. Two moderators
    picking from the same few recent comments race; the loser gets 409."""
    rnd = random.Random(seed)
    auth = {"Authorization": f"Bearer {token}"}
    while not stop.is_set() and not ledger.abort.is_set():
        recent = ledger.recent(6)
        if not recent:
            time.sleep(0.01)
            continue
        comment_id = rnd.choice(recent)
        read = call(base, "GET", f"/v1/comments/{comment_id}", headers=auth)
        ledger.record("read", read)
        if read.status != 200:
            time.sleep(0.1)
            continue
        if rnd.random() < 0.5:
            action, body = "approve", {"note": "Within the guidelines"}
        else:
            action, body = "reject", {"reasons": [rnd.choice(REASONS)], "note": "Reported"}
        decided = call(base, "POST", f"/v1/comments/{comment_id}/{action}", body,
                       {**auth, "If-Match": read.headers["etag"]})
        ledger.record("decide", decided)
        if decided.status == 200:
            with ledger.lock:
                ledger.decisions.append(decided.body)


def run_threads(targets: Iterable[Callable[[], None]]) -> list[threading.Thread]:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    return threads


def join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"client threads still running after {timeout}s: {stuck}"


@contextmanager
def clients(ledger: Ledger, stop: threading.Event, threads: list[threading.Thread],
            timeout: float = 45) -> Iterator[None]:
    """Around the fault: afterwards, STOP the clients and wait for them (each finishes
    the key it is on); if the block fails, abandon them at once."""
    try:
        yield
    except BaseException:
        ledger.abort.set()
        stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT)
        raise
    stop.set()
    join_all(threads, timeout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               ledger: Ledger | None = None, allowed: dict[str, set] | None = None) -> float:
    """Wait for CONDITION; with LEDGER and ALLOWED, fail at once on an answer not allowed."""
    started = time.monotonic()
    while not condition():
        if ledger is not None and allowed is not None:
            unexpected = ledger.unexpected(allowed)
            assert not unexpected, f"while waiting for {what}: {len(unexpected)} " \
                                   f"unexpected answers, e.g. {unexpected[:3]}"
        assert time.monotonic() - started < timeout, \
            f"timed out after {timeout}s: {what} ({ledger.tally() if ledger else ''})"
        time.sleep(0.02)
    return time.monotonic() - started


# -- after the fault: the log holds exactly what was acknowledged ----------------------------

def check_log(database_url: str, ledger: Ledger) -> list[LoggedEvent]:
    """Gapless positions, whole streams, one submission per acknowledged key and none
    that nobody was told about, and every acknowledged decision at its position."""
    log, head, remembered = read_log(database_url)
    positions = [e.position for e in log]
    assert positions == list(range(1, len(log) + 1)), "the log has gaps or repeats"
    assert head == len(log), f"head row at {head}, log ends at {len(log)}"

    streams: dict[str, list[LoggedEvent]] = defaultdict(list)
    for event in log:
        streams[event.stream_id].append(event)
    for stream_id, events in streams.items():
        assert [e.version for e in events] == list(range(1, len(events) + 1)), stream_id
        if stream_id.startswith("comment-"):
            # submission and screening are one append: both or neither
            assert [e.type for e in events[:2]] == ["comment.submitted", "comment.screened"], \
                f"{stream_id} starts {[e.type for e in events[:2]]}"
            assert all(e.type in ("comment.approved", "comment.rejected")
                       for e in events[2:]), stream_id

    assert not ledger.unacknowledged, \
        f"keys never acknowledged before the deadline: {sorted(ledger.unacknowledged)[:10]}"
    for key, ids in ledger.acks.items():
        assert len(set(ids)) == 1, f"key {key} was answered with different comments: {ids}"
    acknowledged = {ids[0] for ids in ledger.acks.values()}
    submitted = Counter(e.stream_id.removeprefix("comment-") for e in log
                        if e.type == "comment.submitted")
    assert all(n == 1 for n in submitted.values())  # one stream, one submission
    missing = acknowledged - set(submitted)
    assert not missing, f"{len(missing)} acknowledged submissions are not in the log"
    unannounced = set(submitted) - acknowledged
    assert not unannounced, \
        f"{len(unannounced)} submissions in the log that no client was acknowledged for"
    assert len(submitted) == len(ledger.acks)
    assert {r["key"]: r["id"] for r in remembered} == {k: v[0] for k, v in ledger.acks.items()}

    by_position = {e.position: e for e in log}
    for decision in ledger.decisions:
        event = by_position.get(decision["position"])
        assert event == LoggedEvent(decision["position"], f"comment-{decision['id']}",
                                    decision["version"], f"comment.{decision['status']}"), \
            f"acknowledged decision {decision} is not in the log as answered ({event})"
    return log
