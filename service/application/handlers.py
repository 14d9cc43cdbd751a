"""Command handlers: load -> decide -> append, each in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..db import read_transaction
from ..domain.article import Article, register_article, valid_article_id
from ..domain.comment import (
    DEFAULT_RULES,
    Comment,
    SubmissionRules,
    new_comment_id,
    submit_comment,
)
from ..domain.errors import ArticleIsClosed, CommentNotFound, DecisionRefused, ParentNotFound
from ..domain.events import (
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    article_stream,
    comment_stream,
)
from ..domain.guidelines import CATALOGUE, GuidelineCatalogue
from ..domain.sanctions import check_may_comment
from ..eventstore import NO_STREAM, EventStore, WrongExpectedVersion
from ..eventstore.personal_data import PersonalDataVault
from ..projections import comments
from ..projections.articles import get_article
from ..projections.authors import gate_answer, gate_read
from ..projections.comments import author_history
from ..projections.runner import ProjectionRunner
from ..screening.rules import AuthorHistory
from ..screening.screener import Screener
from .commands import (
    READER,
    Actor,
    ApproveComment,
    CloseArticle,
    Context,
    RegisterArticle,
    RejectComment,
    ReopenArticle,
    SubmitComment,
)
from .errors import ArticleExists, ArticleNotFound, StaleStreamVersion, StaleVersion
from .idempotency import recall, remember, request_fingerprint
from .unit_of_work import Follower, UnitOfWork

log = logging.getLogger(__name__)
SCREENER = Actor(id="screener", role="system")
AUTO_CLOSER = Actor(id="auto-close", role="system")


class _AutoClosing(Exception):
    """An open article's commenting time has run out: record its closing, then refuse."""

    def __init__(self, article_id: str):
        super().__init__(article_id)
        self.article_id = article_id


def get_article_closed_message(moderation: Moderation, article_id: str) -> str | None:
    with read_transaction(moderation.engine) as conn:
        article = get_article(conn, article_id)
    return article["closed_message"] if article else None


@dataclass(frozen=True)
class Recorded:
    """What a command left behind: the stream's new version and the log position."""

    id: str
    version: int
    position: int
    status: str
    at: datetime
    replayed: bool = False


class Moderation:
    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        runner: ProjectionRunner,
        clock: Callable[[], datetime],
        rules: SubmissionRules = DEFAULT_RULES,
        catalogue: GuidelineCatalogue = CATALOGUE,
        followers: Sequence[Follower] = (),
        screener: Screener | None = None,
        auto_close_days: float = 0,
    ):
        self.auto_close_days = auto_close_days
        self.engine = engine
        self.store = store
        self.runner = runner
        self.clock = clock
        self.rules = rules
        self.catalogue = catalogue
        self.followers = list(followers)
        self.screener = screener
        self._known_articles: set[str] = set()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.store, self.runner, self.clock,
                          self.runner.codec_for, self.followers)

    def version_conflict(self, comment_id: str, expected: int) -> StaleVersion:
        """Who won and what the comment is now, in one read-only transaction (no writer
        lock): the refusal carries all its answer needs."""
        with read_transaction(self.engine) as conn:
            codec = self.runner.codec_for(conn)
            history = self.store.read_stream(conn, comment_stream(comment_id))
            comment = Comment.from_history(
                comment_id, [codec.decode(r, personal=False) for r in history])
            current = comments.get_comment(conn, comment_id)
        return StaleVersion(comment_id, expected, comment.version, comment.last_decision,
                            current)

    def register_article(self, cmd: RegisterArticle, ctx: Context) -> Recorded:
        event = register_article(
            article_id=cmd.article_id, title=cmd.title, url=cmd.url, language=cmd.language,
            published_at=cmd.published_at, summary=cmd.summary, now=self.clock(),
        )
        with self.unit_of_work() as uow:
            try:
                [rec] = uow.record(article_stream(event.article_id), [event], NO_STREAM,
                                   ctx.metadata())
            except WrongExpectedVersion:
                raise ArticleExists(f"article {event.article_id} is already registered") from None
            uow.commit()
        log.info("article %s registered at position %d", event.article_id, rec.position)
        return Recorded(event.article_id, rec.version, rec.position, "registered",
                        event.registered_at)

    def submit_comment(self, cmd: SubmitComment, ctx: Context) -> Recorded:
        """Record a reader's comment as pending. Safe to retry with the same idempotency key."""
        fingerprint = request_fingerprint({
            "article_id": cmd.article_id, "author_name": cmd.author_name,
            "author_email": cmd.author_email, "body": cmd.body, "parent_id": cmd.parent_id,
        })
        for attempt in (1, 2):
            try:
                return self._submit(cmd, ctx, fingerprint)
            except IntegrityError:
                if cmd.idempotency_key is None or attempt == 2:
                    raise
                log.info("idempotency key raced; answering from the winner")
            except _AutoClosing as due:
                raise self._auto_close(due.article_id) from None
        raise AssertionError("unreachable")

    def _auto_closes(self, published_at: datetime | None, version: int) -> bool:
        """Only an article never closed or reopened: a moderator's reopening stands."""
        return bool(self.auto_close_days and published_at is not None and version == 1
                    and self.clock() >= published_at + timedelta(days=self.auto_close_days))

    def _auto_close(self, article_id: str) -> ArticleIsClosed:
        """The first submission after an article's commenting time ran out records the
        closing (as the system), then is refused like any later one."""
        message = (f"Comments close {self.auto_close_days:g} days after the article is "
                   "published.")
        try:
            self.close_article(CloseArticle(article_id, message), Context(AUTO_CLOSER))
        except DecisionRefused:  # a racing submission recorded it first
            article = get_article_closed_message(self, article_id)
            return ArticleIsClosed(article_id, article)
        return ArticleIsClosed(article_id, message)

    def _submit(self, cmd: SubmitComment, ctx: Context, fingerprint: str) -> Recorded:
        scope = f"submit:{cmd.article_id}"
        # The text's screening needs no database: it runs before the transaction, so on
        # SQLite no other writer waits for it (used if the domain keeps the text as sent).
        text_flags = self.screener.screen_text(cmd.body) \
            if self.screener is not None and isinstance(cmd.body, str) else None
        with self.unit_of_work() as uow:
            if cmd.idempotency_key is not None:
                # keyed: the request holds a name, an e-mail and a text; a plain digest of
                # it would let anyone holding a dump confirm a guess of them
                fingerprint = uow.vault.pseudonym("request", fingerprint)
                earlier = recall(uow.conn, scope, cmd.idempotency_key, fingerprint)
                if earlier is not None:
                    return Recorded(**{**earlier, "at": datetime.fromisoformat(earlier["at"]),
                                       "replayed": True})
            article_id = valid_article_id(cmd.article_id)
            self._check_article(uow, article_id)
            parent = None
            if cmd.parent_id is not None:
                try:
                    parent = uow.load_comment(_comment_id(cmd.parent_id, "parent_id"))
                except CommentNotFound:
                    raise ParentNotFound(
                        f"parent comment {cmd.parent_id} does not exist",
                        {"parent_id": ["No such comment."]}) from None
            author_id, first_seen = self._author_id(uow, cmd.author_email)
            event = submit_comment(
                comment_id=new_comment_id(), article_id=article_id, parent=parent,
                author_id=author_id, author_name=cmd.author_name,
                author_email=cmd.author_email, network_address=cmd.network_address,
                body=cmd.body, now=self.clock(), rules=self.rules,
            )
            if ctx.actor.role == READER.role:
                ctx = replace(ctx, actor=Actor(event.author_id, READER.role))
            events, metas, ids = [event], [ctx.metadata()], [str(uuid.uuid4())]
            if self.screener is not None:
                events.append(self._screen(
                    uow, event, first_seen, text_flags if event.body == cmd.body else None))
                metas.append(replace(ctx, actor=SCREENER, causation_id=ids[0]).metadata())
                ids.append(str(uuid.uuid4()))
            # the gate is read once the append holds the log's head lock, in the same
            # round trip; the writes then wait for the commit and go with it
            gate = gate_read(article_id, event.author_id)
            rec = uow.record(comment_stream(event.comment_id), events, NO_STREAM, metas,
                             ids, locked_reads=[gate], hold=True)[-1]
            self._check_gate(article_id, gate_answer(gate.row), first_seen)
            result = Recorded(event.comment_id, rec.version, rec.position, "pending",
                              event.submitted_at)
            if cmd.idempotency_key is not None:
                remember(uow.writer, scope, cmd.idempotency_key, fingerprint,
                         {**{k: v for k, v in result.__dict__.items() if k != "replayed"},
                          "at": result.at.isoformat()},
                         self.clock())
            uow.commit()
        # the position of comment.submitted: the append gave its events consecutive ones
        log.info("comment %s submitted on %s at position %d", event.comment_id, article_id,
                 rec.position - len(events) + 1)
        return result

    def _check_article(self, uow: UnitOfWork, article_id: str) -> None:
        """Articles are never removed, so one seen to exist need not be looked up again
        (whether it is closed is checked after the append, see `_check_gate`)."""
        if article_id in self._known_articles:
            return
        article = get_article(uow.conn, article_id)
        if article is None:
            raise ArticleNotFound(f"article {article_id} does not exist")
        if article["closed"]:
            raise ArticleIsClosed(article_id, article["closed_message"])
        if self._auto_closes(article["published_at"], article["version"]):
            raise _AutoClosing(article_id)
        if len(self._known_articles) > 100_000:
            self._known_articles.clear()
        self._known_articles.add(article_id)

    def _check_gate(self, article_id: str, gate: tuple[Any, Any], first_seen: bool) -> None:
        """`gate` was read once the append held the log's head lock: every closing,
        suspension and ban committed before this submission's position is visible, so
        none can slip in after one (the refusal rolls the whole submission back)."""
        article, (sanction, until) = gate
        if article is None:  # pragma: no cover - articles are never removed
            raise ArticleNotFound(f"article {article_id} does not exist")
        if article[0]:
            raise ArticleIsClosed(article_id, article[1])
        if self._auto_closes(article[2], article[3]):
            raise _AutoClosing(article_id)
        if not first_seen:
            check_may_comment(sanction, until, self.clock())

    def close_article(self, cmd: CloseArticle, ctx: Context) -> Recorded:
        """Close an article to new comments; what is already there stays as it is."""
        return self._change_article(
            cmd.article_id, cmd.expected_version, ctx,
            lambda a, now: a.close(ctx.actor.id, cmd.message, now), "closed")

    def reopen_article(self, cmd: ReopenArticle, ctx: Context) -> Recorded:
        return self._change_article(
            cmd.article_id, cmd.expected_version, ctx,
            lambda a, now: a.reopen(ctx.actor.id, now), "open")

    def _change_article(self, article_id: object, expected: int | None, ctx: Context,
                        change: Callable, status: str) -> Recorded:
        article_id = valid_article_id(article_id)
        stream = article_stream(article_id)
        with self.unit_of_work() as uow:
            history = [uow.codec.decode(r) for r in self.store.read_stream(uow.conn, stream)]
            if not history:
                raise ArticleNotFound(f"article {article_id} does not exist")
            article = Article.from_history(article_id, history)
            if expected is not None and expected != article.version:
                raise StaleStreamVersion(f"article {article_id}", expected, article.version)
            now = self.clock()
            event = change(article, now)
            try:
                [rec] = uow.record(stream, [event], article.version, ctx.metadata())
            except WrongExpectedVersion as exc:
                raise StaleStreamVersion(f"article {article_id}", article.version,
                                         exc.actual) from None
            uow.commit()
        log.info("article %s %s by %s at position %d", article_id, status, ctx.actor.id,
                 rec.position)
        return Recorded(article_id, rec.version, rec.position, status, now)

    def _screen(self, uow: UnitOfWork, event: CommentSubmitted, first_seen: bool,
                text_flags: list | None = None) -> CommentScreened:
        """Advisory flags, appended with the submission itself (one append, one lock)."""
        earlier, same_text = (0, False) if first_seen else author_history(
            uow.conn, event.author_id, event.body, event.comment_id)
        screening = self.screener.screen(event.body, AuthorHistory(earlier, same_text),
                                         text_flags)
        return CommentScreened(event.comment_id, screening.flags, screening.risk,
                               self.screener.name, self.clock(), event.author_id)

    def _author_id(self, uow: UnitOfWork, email: object) -> tuple[str, bool]:
        """Same e-mail, same author: a keyed pseudonym, so the log never holds the address.
        Without an e-mail every comment has an author of its own, new by construction."""
        if isinstance(email, str) and email.strip():
            return email_author_id(uow.vault, email), False
        author_id = "author-" + uuid.uuid4().hex
        uow.vault.mark_new(author_id)
        return author_id, True

    def approve(self, cmd: ApproveComment, ctx: Context, *,
                within: Callable | None = None) -> Recorded:
        return self._decide(cmd.comment_id, cmd.expected_version, ctx,
                            lambda c, now: c.approve(ctx.actor.id, cmd.note, now), within)

    def reject(self, cmd: RejectComment, ctx: Context, *,
               within: Callable | None = None) -> Recorded:
        return self._decide(
            cmd.comment_id, cmd.expected_version, ctx,
            lambda c, now: c.reject(ctx.actor.id, cmd.reasons, cmd.note, now, self.catalogue),
            within)

    def _decide(self, comment_id: str, expected: int, ctx: Context,
                decide: Callable, within: Callable | None = None) -> Recorded:
        """`within(writer, recorded)`: the caller's own writes, in the decision's
        transaction (a bulk request's idempotency record)."""
        comment_id = _comment_id(comment_id, "comment_id")
        try:
            with self.unit_of_work() as uow:
                comment = uow.load_comment(comment_id, personal=False)
                if comment.version != expected:
                    raise self.version_conflict(comment_id, expected)
                event: CommentApproved | CommentRejected = decide(comment, self.clock())
                [rec] = uow.record(comment_stream(comment_id), [event], expected,
                                   ctx.metadata(), hold=True)
                status = "approved" if isinstance(event, CommentApproved) else "rejected"
                result = Recorded(comment_id, rec.version, rec.position, status,
                                  event.decided_at)
                if within is not None:
                    within(uow.writer, result)
                uow.commit()
        except WrongExpectedVersion:  # lost the race at the insert itself
            raise self.version_conflict(comment_id, expected) from None
        log.info("comment %s %s by %s (version %d, position %d)", comment_id, status,
                 ctx.actor.id, rec.version, rec.position)
        return result


def email_author_id(vault: PersonalDataVault, email: str) -> str:
    """The author id of everyone who writes with this e-mail address (a keyed pseudonym)."""
    return "author-" + vault.pseudonym("email", email.strip().casefold())


def _comment_id(value: object, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise CommentNotFound(f"{value!r} is not a comment id", {field: ["Not a comment id."]}) \
            from None
