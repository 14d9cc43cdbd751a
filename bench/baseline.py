"""The bare baseline: the same server stack (gunicorn, Flask, SQLAlchemy) whose submit
endpoint does one plain INSERT, so the cost of the event-sourced design shows as a ratio."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, jsonify, request

from service.config import Settings
from service.db import make_engine

plain = sa.Table(
    "bench_plain_comments", sa.MetaData(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("author", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def create_table(settings: Settings) -> None:
    engine = make_engine(settings)
    with engine.begin() as conn:
        plain.drop(conn, checkfirst=True)
        plain.create(conn)
    engine.dispose()


def create_app(settings: Settings) -> Flask:
    engine = make_engine(settings)
    app = Flask(__name__)

    @app.post("/v1/articles/<article_id>/comments")
    def submit(article_id: str):  # noqa: ANN202
        body = request.get_json()
        row = {"id": str(uuid.uuid4()), "article_id": article_id,
               "author": body["author"]["name"], "body": body["body"],
               "created_at": datetime.now(UTC)}
        with engine.begin() as conn:
            conn.execute(plain.insert().values(row))
        return jsonify({"id": row["id"], "status": "pending"}), 202

    return app
