"""Loads the demo data through the application commands, like any other client would.

Every comment goes in with an idempotency key derived from its seed key, and decisions
are applied only where the comment's history shows they are still missing, so running
the seed twice (or again after an interruption) adds nothing twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .application.commands import (
    Actor,
    ApproveComment,
    BanAuthor,
    CloseArticle,
    Context,
    NoteAuthor,
    RegisterArticle,
    RejectComment,
    SubmitComment,
    SuspendAuthor,
    WarnAuthor,
)
from .application.errors import ArticleExists
from .application.reports import DismissReports, ReportComment
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
    if "desk" in data:
        report.decisions_made += seed_desk(services, data["desk"], ids)
    return report


def seed_desk(services: Services, desk: dict[str, Any], ids: dict[str, str]) -> int:
    """Every state a moderator meets: a closed article, reported comments (one set already
    dismissed), a suspended and a banned author with their history. Each step is applied
    only where the log shows it missing, so seeding again adds nothing."""
    made = 0
    closed = desk["closed_article"]
    with contextlib.suppress(ArticleExists):
        services.moderation.register_article(RegisterArticle(
            closed["id"], closed["title"], language=closed.get("language"),
            published_at=datetime.fromisoformat(closed["published_at"])), SEED_ADMIN)
    if not services.queries.article(closed["id"])["closed"]:
        services.moderation.close_article(CloseArticle(closed["id"], closed["message"]),
                                          Context(Actor(closed["moderator"], "moderator")))
        made += 1
    for n, entry in enumerate(desk["reports"]):
        comment_id = ids[entry["comment"]]
        for address in entry["from"]:
            services.reports.report(ReportComment(
                comment_id, entry["reason"], None, address,
                f"seed-report:{entry['comment']}:{n}:{address}"), Context())
        if entry.get("dismissed_by") and not any(
                e["type"] == "comment.reports_dismissed"
                for e in services.queries.history(comment_id, personal=False)):
            services.reports.dismiss(DismissReports(
                comment_id, services.queries.comment(comment_id)["version"], entry["note"]),
                Context(Actor(entry["dismissed_by"], "moderator")))
            made += 1
    for kind in ("suspended", "banned"):
        plan = desk[kind]
        author_id = services.queries.comment(ids[plan["comment"]])["author_id"]
        if services.authors.profile(author_id)["version"]:
            continue
        ctx = Context(Actor(plan["moderator"], "moderator"))
        sanctions = services.sanctions
        w = plan["warning"]
        sanctions.warn(WarnAuthor(author_id, 0, w["reason"], w["note"]), ctx)
        if kind == "suspended":
            s = plan["suspension"]
            until = services.clock() + timedelta(days=plan["days"])
            sanctions.suspend(SuspendAuthor(author_id, 1, until, s["reason"], s["note"]), ctx)
        else:
            b = plan["ban"]
            sanctions.ban(BanAuthor(author_id, 1, b["reason"], b["note"], True), ctx)
            sanctions.note(NoteAuthor(author_id, 2, plan["author_note"]), ctx)
        made += 1
    return made


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
