"""Loads the demo data through the application commands, like any other client would.

Every comment goes in with an idempotency key derived from its seed key, and decisions
are applied only where the comment's history shows they are still missing, so running
the seed twice (or again after an interruption) adds nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
    SubmitComment,
)
from .application.errors import ArticleExists
from .bootstrap import Services

DEFAULT_SEED = Path(__file__).resolve().parent.parent / "seeds" / "demo.json"
SEED_ADMIN = Context(Actor("seed", "admin"))


@dataclass
class SeedReport:
    article_created: bool = False
    comments_created: int = 0
    comments_present: int = 0
    decisions_made: int = 0


def load_seed(path: Path | str = DEFAULT_SEED) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def seed(services: Services, data: dict[str, Any],
         progress: Callable[[int], None] | None = None) -> SeedReport:
    report = SeedReport()
    art = data["article"]
    try:
        services.moderation.register_article(RegisterArticle(
            art["id"], art["title"], art.get("url"), art.get("language"),
            datetime.fromisoformat(art["published_at"]) if art.get("published_at") else None,
            art.get("summary")), SEED_ADMIN)
        report.article_created = True
    except ArticleExists:
        pass
    ids: dict[str, str] = {}
    for item in data["comments"]:
        author = item["author"]
        result = services.moderation.submit_comment(SubmitComment(
            article_id=art["id"], author_name=author["name"], body=item["body"],
            author_email=author.get("email"), parent_id=ids.get(item.get("parent", "")),
            idempotency_key=f"seed:{art['id']}:{item['key']}"), Context())
        ids[item["key"]] = result.id
        if result.replayed:
            report.comments_present += 1
        else:
            report.comments_created += 1
        report.decisions_made += _decide(services, result.id, result.version, item)
        if progress:
            progress(1)
    return report


def _decide(services: Services, comment_id: str, submitted_version: int,
            item: dict[str, Any]) -> int:
    decisions = [d for d in (item.get("decision"), item.get("later")) if d]
    version = services.queries.comment(comment_id)["version"]
    made = 0
    for decision in decisions[version - submitted_version:]:
        ctx = Context(Actor(decision["moderator"], "moderator"))
        if decision["action"] == "approve":
            done = services.moderation.approve(
                ApproveComment(comment_id, version, decision.get("note")), ctx)
        else:
            done = services.moderation.reject(RejectComment(
                comment_id, version, decision["reasons"], decision.get("note")), ctx)
        version = done.version
        made += 1
    return made
