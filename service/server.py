"""`moderation serve`: gunicorn driven from code, one app (engine, pools) per worker.

Before the first worker starts, pending migrations are applied and any read model that is
behind the event log (e.g. one a migration has just added) is rebuilt, so requests never
meet a schema or projection that is not ready.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from . import migrate
from .bootstrap import build, configure_logging
from .config import Settings

log = logging.getLogger(__name__)

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms id=%({x-request-id}o)s'


def prepare_database(settings: Settings) -> None:
    migrate.upgrade(settings)
    services = build(settings)
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
        "worker_class": "sync",
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
    }
    log.info("serving on %s with %d workers", options["bind"], workers)
    GunicornServer(settings, options).run()
