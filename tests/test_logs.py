"""Structured logs: MODERATION_LOG_FORMAT=json gives one JSON object per line, carrying the
request id of the HTTP request the line belongs to."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from service import logs
from service.app import create_app
from service.application.commands import Actor, Context, RegisterArticle
from service.config import Settings


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level


def test_json_lines_carry_the_request_id(settings, services, capsys, restore_logging):
    services.moderation.register_article(RegisterArticle("logged", "Logged"),
                                         Context(Actor("setup", "admin")))
    app = create_app(replace(settings, log_format="json", submit_rate_limit="1000/minute"),
                     services)
    logs.configure("INFO", "json")
    capsys.readouterr()
    response = app.test_client().post("/v1/articles/logged/comments",
                                      json={"author": {"name": "R"}, "body": "Logged body"},
                                      headers={"X-Request-ID": "req-json-1"})
    assert response.status_code == 202
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    submitted = [line for line in lines if "submitted" in line["message"]]
    assert submitted, lines
    assert submitted[0]["request_id"] == "req-json-1"
    assert set(submitted[0]) >= {"time", "level", "logger", "message", "request_id"}
    assert "Logged body" not in json.dumps(lines)


def test_the_log_format_is_checked():
    assert Settings.from_env({"MODERATION_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SystemExit, match="MODERATION_LOG_FORMAT"):
        Settings.from_env({"MODERATION_LOG_FORMAT": "xml"})
