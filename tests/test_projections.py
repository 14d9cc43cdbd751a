"""Projections: a replay of the log always equals the live read models."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from service.application.commands import (
    Actor,
    ApproveComment,
    BanAuthor,
    CloseArticle,
    Context,
    LiftSanction,
    NoteAuthor,
    RegisterArticle,
    RejectComment,
    ReopenArticle,
    SubmitComment,
    SuspendAuthor,
    WarnAuthor,
)
from service.application.reports import DismissReports, ReportComment
from service.db import write_transaction
from service.domain.errors import DomainError
from service.eventstore import ANY, NewEvent
from service.projections.runner import ProjectionOutOfStep

ADMIN = Context(Actor("admin", "admin"))
MODS = [Context(Actor(f"mod-{i}", "moderator")) for i in range(3)]
BODIES = ["Fair point.", "هذا رأي محترم", "ئەمە ڕاستە \u200f", "Ev rast e 🙂", "STOP!!!"]

command = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(["a1", "a2"]), st.sampled_from(BODIES),
              st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("approve"), st.integers(0, 30), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("reject"), st.integers(0, 30), st.integers(0, 2),
              st.lists(st.sampled_from(["threats", "off_topic", "other", "profanity"]),
                       min_size=1, max_size=3), st.booleans()),
    st.tuples(st.just("close"), st.sampled_from(["a1", "a2"]),
              st.sampled_from([None, "Closed for the night."])),
    st.tuples(st.just("reopen"), st.sampled_from(["a1", "a2"])),
    st.tuples(st.sampled_from(["warn", "suspend", "ban", "lift", "note"]), st.integers(0, 3),
              st.booleans()),
    st.tuples(st.just("report"), st.integers(0, 30), st.integers(0, 2)),
    st.tuples(st.just("dismiss"), st.integers(0, 30)),
)


def _sanction(services, cmd, authors):
    kind, who, flag = cmd
    if who not in authors:
        return
    author_id = authors[who]
    version = services.authors.profile(author_id)["version"]
    mod = MODS[who % 3]
    reason = "commercial_promotion"
    if kind == "warn":
        services.sanctions.warn(WarnAuthor(author_id, version, reason), mod)
    elif kind == "suspend":
        until = services.clock() + timedelta(hours=1 if flag else 48)
        services.sanctions.suspend(SuspendAuthor(author_id, version, until, reason), mod)
    elif kind == "ban":
        services.sanctions.ban(BanAuthor(author_id, version, reason, reject_pending=flag), mod)
    elif kind == "lift":
        services.sanctions.lift(LiftSanction(author_id, version), mod)
    else:
        services.sanctions.note(NoteAuthor(author_id, version, "seen before"), mod)


def run(services, commands, state, authors=None):
    authors = {} if authors is None else authors
    for cmd in commands:
        try:
            if cmd[0] == "submit":
                _, art, body, reply, author = cmd
                parent = state[-1] if reply and state else None
                r = services.moderation.submit_comment(SubmitComment(
                    art, f"Reader {author}", body, author_email=f"r{author}@example.org",
                    parent_id=parent), Context())
                state.append(r.id)
                authors[author] = services.queries.comment(r.id)["author_id"]
            elif cmd[0] in ("warn", "suspend", "ban", "lift", "note"):
                _sanction(services, cmd, authors)
            elif cmd[0] == "report" and state:
                services.reports.report(ReportComment(
                    state[cmd[1] % len(state)], "threats", None, f"198.51.100.{cmd[2]}"),
                    Context())
            elif cmd[0] == "dismiss" and state:
                cid = state[cmd[1] % len(state)]
                services.reports.dismiss(DismissReports(
                    cid, services.queries.comment(cid)["version"]), MODS[2])
            elif cmd[0] == "close":
                services.moderation.close_article(CloseArticle(cmd[1], cmd[2]), MODS[0])
            elif cmd[0] == "reopen":
                services.moderation.reopen_article(ReopenArticle(cmd[1]), MODS[1])
            elif state:
                cid = state[cmd[1] % len(state)]
                version = services.queries.comment(cid)["version"]
                if cmd[0] == "approve":
                    services.moderation.approve(
                        ApproveComment(cid, version, "why" if cmd[3] else None), MODS[cmd[2]])
                else:
                    services.moderation.reject(RejectComment(
                        cid, version, cmd[3], "why" if cmd[4] else None), MODS[cmd[2]])
        except DomainError:
            pass  # refused commands append nothing; the invariant must still hold


@hsettings(max_examples=15, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(command, min_size=1, max_size=25))
def test_random_command_sequences_rebuild_to_the_live_state(services, commands):
    for art in ("a1", "a2"):
        with contextlib.suppress(DomainError):
            services.moderation.register_article(RegisterArticle(art, art), ADMIN)
    run(services, commands, [])
    report = services.runner.rebuild(services.engine, swap=False, batch_size=7)
    assert report.identical, report.differences
    assert report.position == services.queries.head()


@pytest.fixture
def populated(services):
    services.moderation.register_article(RegisterArticle("a1", "A1"), ADMIN)
    run(services, [("submit", "a1", b, False, i) for i, b in enumerate(BODIES)], ids := [])
    services.moderation.approve(ApproveComment(ids[0], 2), MODS[0])
    services.moderation.reject(RejectComment(ids[1], 2, ["threats"]), MODS[1])
    return ids


def test_verify_detects_drift_and_rebuild_repairs_it(services, populated):
    with services.engine.begin() as conn:
        conn.execute(sa.text("UPDATE comment_state SET status = 'approved' WHERE comment_id = :c"),
                     {"c": populated[2]})
        conn.execute(sa.text("DELETE FROM moderation_queue WHERE comment_id = :c"),
                     {"c": populated[3]})
    report = services.runner.rebuild(services.engine, swap=False)
    assert {d.table for d in report.differences} == {"comment_state", "moderation_queue"}
    assert any("differs" in k for d in report.differences for k in d.mismatched_keys)
    repaired = services.runner.rebuild(services.engine, swap=True)
    assert not repaired.identical and repaired.swapped
    assert services.runner.rebuild(services.engine, swap=False).identical
    assert services.queries.comment(populated[2])["status"] == "pending"
    with services.engine.connect() as conn:
        assert set(services.runner.status(conn).values()) == {services.queries.head()}


def test_an_event_appended_behind_the_projections_back_stops_every_later_write(
        services, populated):
    with write_transaction(services.engine) as conn:  # bypasses the projections
        services.store.append(conn, "rogue-1", [NewEvent("test.rogue", {})], ANY)
    with pytest.raises(ProjectionOutOfStep):
        services.moderation.approve(ApproveComment(populated[2], 2), MODS[0])
    assert services.queries.comment(populated[2])["status"] == "pending"


def test_rebuild_streams_in_batches(services, populated):
    seen = []
    services.runner.rebuild(services.engine, swap=True, batch_size=2,
                            progress=lambda done, total: seen.append((done, total)))
    head = services.queries.head()
    assert seen[-1] == (head, head)
    assert len(seen) >= head // 2


def test_verify_walks_text_keys_in_the_same_order_on_both_databases(services):
    """Keys that sort differently under linguistic collations must still line up."""
    services.moderation.register_article(RegisterArticle("a1", "A1"), ADMIN)
    names = ["Zeynep", "amira", "Émile", "émile", "ئاسۆ", "_x", "a-b", "ab", "a b", "B"]
    for name in names:
        c = services.moderation.submit_comment(SubmitComment("a1", "R", "text"), Context())
        services.moderation.approve(ApproveComment(c.id, c.version),
                                    Context(Actor(name, "moderator")))
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_large_batches_replay_exactly_like_single_events(services):
    """A replay writes hundreds of rows per table at once (COPY on PostgreSQL); the result
    must equal what hundreds of single submissions and decisions wrote inline."""
    from service.projections.base import COPY_THRESHOLD

    services.moderation.register_article(RegisterArticle("a1", "A1"), ADMIN)
    count = COPY_THRESHOLD + 30
    for i in range(count):
        c = services.moderation.submit_comment(SubmitComment(
            "a1", f"Reader {i % 7}", BODIES[i % len(BODIES)] + f" #{i}",
            author_email=f"r{i % 7}@example.org"), Context())
        if i % 3 == 0:
            services.moderation.approve(ApproveComment(c.id, c.version), MODS[i % 3])
        elif i % 3 == 1:
            services.moderation.reject(RejectComment(c.id, c.version, ["threats", "other"],
                                                     "why"), MODS[i % 3])
    report = services.runner.rebuild(services.engine, swap=False, batch_size=5000)
    assert report.identical, report.differences
    assert services.queries.queue()[1] == count // 3


def test_rows_a_replay_holds_are_written_and_let_go_past_their_limit(services, populated,
                                                                   monkeypatch):
    """Author standing and article counts are held in memory across a replay's batches;
    past the limit they are written and later batches read them back from the table."""
    from service.projections import base

    monkeypatch.setattr(base, "HOLD_AT_MOST", 1)
    services.sanctions.warn(WarnAuthor(
        services.queries.comment(populated[0])["author_id"],
        services.authors.profile(services.queries.comment(populated[0])["author_id"])
        ["version"], "commercial_promotion"), MODS[0])
    report = services.runner.rebuild(services.engine, swap=False, batch_size=2)
    assert report.identical, report.differences


def test_a_projection_reads_only_read_models_applied_before_it():
    """A projection that reads another's table must run after it (a rebuild hands it the
    fresh copy, filled first in each batch); the runner refuses any other order."""
    from service.eventstore import EventStore
    from service.projections.comments import CommentStateProjection
    from service.projections.reports import ReportProjection
    from service.projections.runner import ProjectionRunner

    def codec(conn):  # noqa: ANN001, ANN202 - never called
        raise AssertionError

    ProjectionRunner(EventStore(), codec, (CommentStateProjection, ReportProjection))
    with pytest.raises(ValueError, match="comment_state"):
        ProjectionRunner(EventStore(), codec, (ReportProjection, CommentStateProjection))
