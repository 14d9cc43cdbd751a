"""`moderation serve`: gunicorn driven from code, one app (engine, pools) per worker.

Workers are gevent workers: a connection costs a greenlet, not a process, so slow or idle
clients (a partial body, a held-open keep-alive, a server-sent event stream) cannot take
the workers away from everyone else. Gunicorn's own refusals (a request line over 8,190
bytes, too many header bytes, a malformed request) are answered in the API's JSON error
format with an X-Request-ID, like every other error.

Before the first worker starts, pending migrations are applied and any read model that is
behind the event log (e.g. one a migration has just added) is rebuilt, so requests never
meet a schema or projection that is not ready.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from typing import Any

from gevent import monkey
from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.ggevent import GeventWorker
from prometheus_client import multiprocess
from prometheus_client import values as prometheus_values

from . import migrate, telemetry
from .bootstrap import build, configure_logging
from .config import Settings, prepare_metrics_directory
from .db import make_engine

log = logging.getLogger(__name__)

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def prepare_database(settings: Settings) -> None:
    engine = make_engine(settings)
    before = migrate.current_revision(engine)
    with migrate.quietly():
        migrate.upgrade(settings, engine=engine)
    after = migrate.current_revision(engine)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    services = build(settings, engine=engine)
    try:
        with services.engine.connect() as conn:
            head = services.store.head(conn)
            status = services.runner.status(conn)
        behind = [n for n in services.runner.names if status.get(n) != head]
        if behind:
            log.warning("read models behind the log (%s); replaying %d events",
                        ", ".join(behind), head)
            report = services.runner.rebuild(services.engine, swap=True)
            log.info("read models rebuilt to position %d", report.position)
    finally:
        services.close()


class ServerLogger(glogging.Logger):
    """Gunicorn's own lines (the master's start, worker boots and exits, the access log)
    go through the service's log handler, so every line has one format (text or JSON)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers = []
            logger.propagate = True
        # access lines are INFO lines: a level above INFO leaves them out like any other
        self.access_log.setLevel(max(logging.INFO, self.loglevel))

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """The access line carries its request id as every other line does."""
        if not (self.access_log_enabled and self.access_log.isEnabledFor(logging.INFO)):
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        request_id = next((value for name, value in resp.headers
                           if name.lower() == "x-request-id"), "-")
        self.access_log.info(self.cfg.access_log_format, atoms,
                             extra={"request_id": request_id})


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Gunicorn's refusal of a request it could not parse, in the API's error format."""
    request_id = uuid.uuid4().hex
    code = "_".join(reason.lower().replace("-", " ").split()) or "bad_request"
    body = json.dumps({
        "status": status_int, "code": code,
        "message": f"The server refused the request before reading it: {reason}.",
        "errors": {}, "request_id": request_id}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-ID: {request_id}\r\nX-Content-Type-Options: nosniff\r\n"
            "Cache-Control: no-store\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class ModerationWorker(GeventWorker):
    """A gevent worker whose protocol-level errors speak the API's JSON dialect."""

    def patch(self) -> None:
        super().patch()
        _cooperative_psycopg()

    def init_process(self) -> None:
        # gunicorn writes its error pages through this one function (workers/base.py)
        gunicorn_util.write_error = write_json_error
        # count into the files the master set up for all workers (prepare_metrics_directory)
        prometheus_values.ValueClass = prometheus_values.get_value_class()
        telemetry.metrics.cache_clear()  # made anew on first use, counting into those files
        super().init_process()


def _cooperative_psycopg() -> None:
    """psycopg chooses how to wait for the server when it is first imported. The master
    imported it before gevent patched anything (it migrates the database), so the C wait
    was chosen, and it would block every greenlet of a worker while one waits for a row
    lock another of them holds. Choose again, now that `select` is cooperative."""
    waiting = sys.modules.get("psycopg.waiting")
    if waiting is not None and monkey.is_module_patched("select"):
        waiting.wait = waiting.wait_select  # calls select.select, which gevent replaced


def _worker_exited(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)


class GunicornServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # some settings only exist in newer gunicorns
                self.cfg.set(key, value)

    def load(self):  # noqa: ANN201 - called in each worker after fork
        from .app import create_app

        configure_logging(self.settings)
        return create_app(self.settings)


def run(settings: Settings, *, host: str, port: int, workers: int, timeout: int) -> None:
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": ModerationWorker,
        "worker_connections": 1000,
        "timeout": timeout,
        "graceful_timeout": timeout,
        "keepalive": 5,
        "preload_app": False,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "access_log_format": ACCESS_LOG_FORMAT,
        "limit_request_line": 8190,
        "proc_name": "moderation",
        # the control socket (gunicorn 27+) lives at one fixed path per user; we do not
        # use it, and two servers on one machine would fight over it
        "control_socket_disable": True,
        "child_exit": _worker_exited,
        "logger_class": ServerLogger,
    }
    prepare_metrics_directory()
    log.info("serving on %s with %d workers", options["bind"], workers)
    GunicornServer(settings, options).run()
