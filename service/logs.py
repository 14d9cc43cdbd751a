"""Log lines as text (the default) or as one JSON object per line
(`MODERATION_LOG_FORMAT=json`), each with the request id of the HTTP request it belongs to.

A JSON line: {"time", "level", "logger", "message", "request_id"} plus "exception" when
one is logged. The access log is routed through the same handler, so a log shipper reads
one format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import g, has_request_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s [%(request_id)s]"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the X-Request-ID being answered ('-' outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = ((g.get("request_id") if has_request_context() else None)
                             or getattr(record, "request_id", None) or "-")
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def handler(log_format: str) -> logging.Handler:
    out = logging.StreamHandler()
    out.addFilter(RequestIdFilter())
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out


def configure(level: str, log_format: str) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    for old in [h for h in root.handlers if getattr(h, "moderation", False)]:
        root.removeHandler(old)
    new = handler(log_format)
    new.moderation = True  # type: ignore[attr-defined]
    root.addHandler(new)
    for name in ("gunicorn.error", "gunicorn.access"):  # one format for the server's lines
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


@contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    """Hold back a logger's INFO lines for a block whose caller says in one line what
    happened (a seed, a schema upgrade); warnings still come through."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(level)
