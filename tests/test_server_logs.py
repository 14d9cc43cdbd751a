"""The server's access lines follow the configured level like every other line."""

from __future__ import annotations

import logging

import pytest
from gunicorn.config import Config

from service.server import ACCESS_LOG_FORMAT, ServerLogger


class Response:
    status = "202 ACCEPTED"
    headers = [("X-Request-ID", "req-1")]
    sent = 12
    response_length = 12


class Request:
    headers: list = []  # noqa: RUF012
    method, path, query, uri, version = "POST", "/v1/x", "", "/v1/x", (1, 1)


def logger(level: str) -> ServerLogger:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("loglevel", level)
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    return ServerLogger(cfg)


@pytest.mark.parametrize(("level", "written"), [("info", True), ("debug", True),
                                                 ("warning", False), ("error", False)])
def test_access_lines_are_info_lines(level, written, caplog):
    import datetime

    server_logger = logger(level)
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": "192.0.2.1", "RAW_URI": "/v1/x", "SERVER_PROTOCOL": "HTTP/1.1",
               "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/x", "QUERY_STRING": ""}
    server_logger.access(Response(), Request(), environ, datetime.timedelta(milliseconds=3))
    lines = [r for r in caplog.records if r.name == "gunicorn.access"]
    assert bool(lines) == written, lines
    if written:
        assert lines[0].request_id == "req-1" and "POST /v1/x" in lines[0].getMessage()
