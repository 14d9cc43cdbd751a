"""Unit tests of the rules beside the comment: articles, authors, reader reports, sanctions
and the guideline catalogue. No database, no framework; each limit at its exact boundary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.article import (
    CLOSING_MESSAGE_MAX,
    Article,
    register_article,
    valid_article_id,
)
from service.domain.author import Author, valid_author_id, valid_email, valid_note
from service.domain.comment import NOTE_MAX, Comment
from service.domain.errors import (
    AuthorIsBanned,
    AuthorIsSuspended,
    AuthorNotFound,
    DecisionRefused,
    InvalidInput,
    NoteRequired,
    UnknownReason,
)
from service.domain.events import (
    ArticleClosed,
    ArticleRegistered,
    ArticleReopened,
    AuthorBanned,
    AuthorErased,
    AuthorNoted,
    AuthorSanctionLifted,
    AuthorSuspended,
    AuthorWarned,
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
)
from service.domain.guidelines import CATALOGUE
from service.domain.reports import (
    NotReportable,
    Reports,
    dismiss_reports,
    report_comment,
    report_state,
)
from service.domain.sanctions import (
    BANNED,
    SUSPENDED,
    TEXT_MAX,
    Standing,
    check_may_comment,
    current_sanction,
)

from .test_domain import NOW, pending

AUTHOR = "author-" + "a" * 32


# -- articles -----------------------------------------------------------------------------

def register(**overrides: object) -> ArticleRegistered:
    args = dict(article_id="baghouz-2026", title="The last days", url=None, language=None,
                published_at=None, summary=None, now=NOW)
    args.update(overrides)
    return register_article(**args)


def test_registering_keeps_every_field():
    event = register(title=" Life after the camp ", url="https://example.org/a",
                     language="ar", published_at=NOW - timedelta(days=1), summary="S")
    assert event == ArticleRegistered("baghouz-2026", "Life after the camp",
                                      "https://example.org/a", "ar", NOW - timedelta(days=1),
                                      "S", NOW)


@pytest.mark.parametrize(("field", "limit"), [("title", 300), ("url", 2000),
                                              ("language", 20), ("summary", 5000)])
def test_article_text_limits_are_exact(field, limit):
    assert getattr(register(**{field: "x" * limit}), field) == "x" * limit
    with pytest.raises(InvalidInput) as info:
        register(**{field: "x" * (limit + 1)})
    assert field in info.value.errors


@pytest.mark.parametrize("good", ["a", "A9", "9-x_y.z", "a" * 100])
def test_article_ids_that_are_accepted(good):
    assert valid_article_id(good) == good


@pytest.mark.parametrize("bad", ["", "-a", ".a", "a" * 101, "a b", "a/b", "a\n", None, 7])
def test_article_ids_that_are_refused(bad):
    with pytest.raises(InvalidInput) as info:
        valid_article_id(bad)
    assert "article_id" in info.value.errors


def test_an_article_folds_its_closing_and_reopening():
    article = Article.from_history("a1", [register()])
    assert (article.version, article.closed, article.message) == (1, False, None)
    closed = article.close("mod", " Thread closed after a week. ", NOW)
    assert closed == ArticleClosed("a1", "Thread closed after a week.", "mod", NOW)
    article.apply(closed)
    assert (article.version, article.closed, article.message) == (
        2, True, "Thread closed after a week.")
    with pytest.raises(DecisionRefused):
        article.close("mod", None, NOW)
    reopened = article.reopen("mod2", NOW)
    assert reopened == ArticleReopened("a1", "mod2", NOW)
    article.apply(reopened)
    assert (article.version, article.closed, article.message) == (3, False, None)
    with pytest.raises(DecisionRefused):
        article.reopen("mod", NOW)


def test_a_new_article_is_at_version_0_and_open():
    article = Article.from_history("a1", [])
    assert (article.id, article.version, article.closed) == ("a1", 0, False)
    with pytest.raises(DecisionRefused):
        article.reopen("mod", NOW)


def test_the_closing_message_limit_is_exact():
    article = Article.from_history("a1", [register()])
    assert CLOSING_MESSAGE_MAX == 500
    assert article.close("mod", "m" * 500, NOW).message == "m" * 500
    with pytest.raises(InvalidInput):
        article.close("mod", "m" * 501, NOW)
    assert article.close("mod", None, NOW).message is None


# -- authors ------------------------------------------------------------------------------

def test_an_author_folds_history_and_erasure():
    author = Author.from_history(AUTHOR, [])
    assert (author.version, author.erasure, author.history) == (0, None, [])
    erased = author.erase(["c1", "c2"], " ticket 7 ", NOW, holds_data=True)
    assert erased == AuthorErased(AUTHOR, ("c1", "c2"), "ticket 7", NOW)
    again = Author.from_history(AUTHOR, [erased])
    assert (again.version, again.erasure, again.history) == (1, erased, [erased])


def test_erasing_again_records_nothing_unless_something_is_left():
    author = Author.from_history(AUTHOR, [AuthorErased(AUTHOR, ("c1", "c2"), "t", NOW)])
    assert author.erase(["c1"], "again", NOW, holds_data=False) is None
    assert author.erase(["c1", "c2"], "again", NOW, holds_data=False) is None
    # a comment the first erasure did not cover, or data still held, erases again
    assert author.erase(["c1", "c3"], "again", NOW, holds_data=False).comment_ids == (
        "c1", "c3")
    assert author.erase(["c1"], "again", NOW, holds_data=True).comment_ids == ("c1",)
    # a first erasure is recorded even when nothing is held any more
    assert Author.from_history(AUTHOR, []).erase([], "t", NOW, holds_data=False) is not None


@pytest.mark.parametrize("note", [None, "", "   "])
def test_an_erasure_needs_a_note(note):
    with pytest.raises(NoteRequired):
        valid_note(note)


def test_the_erasure_note_limit_is_exact():
    assert valid_note("n" * NOTE_MAX) == "n" * NOTE_MAX
    assert valid_note("n") == "n"
    with pytest.raises(InvalidInput):
        valid_note("n" * (NOTE_MAX + 1))
    with pytest.raises(InvalidInput):
        valid_note(42)


def test_author_ids():
    assert valid_author_id(AUTHOR) == AUTHOR
    for bad in ("author-" + "a" * 31, "author-" + "A" * 32, AUTHOR + "\n", "x", None):
        with pytest.raises(AuthorNotFound):
            valid_author_id(bad)


def test_emails_for_a_look_up():
    assert valid_email("hevi@example.org") == "hevi@example.org"
    for missing in (None, "", "  ", 3):
        with pytest.raises(InvalidInput) as info:
            valid_email(missing)
        assert info.value.errors == {"email": ["An e-mail address is required."]}
    with pytest.raises(InvalidInput) as info:
        valid_email("not-an-address")
    assert info.value.errors == {"email": ["Not a valid e-mail address."]}


# -- reader reports -----------------------------------------------------------------------

def published() -> Comment:
    comment = pending()
    comment.apply(comment.approve("mod", None, NOW))
    return comment


def report(comment: Comment, *, counted: bool = True, withhold_at: int = 0,
           reason: object = "threats", note: object = None) -> CommentReported:
    return report_comment(comment, reason=reason, note=note, report_subject="rs",
                          reporter="r", already_counted=not counted, withhold_at=withhold_at,
                          now=NOW, catalogue=CATALOGUE)


def reported(comment: Comment, event: CommentReported) -> Comment:
    comment.apply(event)
    return comment


def test_a_report_of_a_published_comment():
    event = report(published(), note=" rude ")
    assert event == CommentReported("c1", "a1", "threats", "rs", "r", "rude", True, False, NOW)


@pytest.mark.parametrize("reason", ["bogus", None, 3, ""])
def test_a_report_needs_a_guideline_reason(reason):
    with pytest.raises(InvalidInput) as info:
        report(published(), reason=reason)
    assert "reason" in info.value.errors


def test_only_published_comments_can_be_reported():
    with pytest.raises(NotReportable):
        report(pending())
    comment = pending()
    comment.apply(comment.reject("mod", ["threats"], None, NOW, CATALOGUE))
    with pytest.raises(NotReportable):
        report(comment)


def test_the_report_note_limit_is_exact():
    assert report(published(), note="n" * NOTE_MAX).note == "n" * NOTE_MAX
    with pytest.raises(InvalidInput):
        report(published(), note="n" * (NOTE_MAX + 1))


def test_open_reports_count_each_reporter_once_and_resolutions_close_them():
    comment = published()
    assert report_state(comment.history) == Reports(0, False)
    reported(comment, report(comment))
    reported(comment, report(comment, counted=False))  # the same reader again
    reported(comment, report(comment))
    assert report_state(comment.history) == Reports(2, False)
    dismissed = dismiss_reports(comment, "mod", " fine ", NOW)
    assert dismissed == CommentReportsDismissed("c1", "a1", "mod", 2, "fine", NOW)
    comment.apply(dismissed)
    assert report_state(comment.history) == Reports(0, False)
    with pytest.raises(DecisionRefused):
        dismiss_reports(comment, "mod", None, NOW)


def test_a_rejection_or_approval_resolves_open_reports():
    for resolution in (CommentRejected("c1", "a1", "approved", "m", ("threats",), "v", "n",
                                       NOW),
                       CommentApproved("c1", "a1", "rejected", "m", "n", NOW)):
        comment = published()
        reported(comment, report(comment, withhold_at=1))
        assert report_state(comment.history) == Reports(1, True)
        comment.apply(resolution)
        assert report_state(comment.history) == Reports(0, False)


def test_withholding_starts_at_the_threshold_exactly_and_lasts_until_resolved():
    comment = published()
    first = report(comment, withhold_at=2)
    assert not first.withheld
    reported(comment, first)
    uncounted = report(comment, withhold_at=2, counted=False)
    assert not uncounted.withheld  # a reader reporting twice does not reach the threshold
    second = report(comment, withhold_at=2)
    assert second.withheld
    reported(comment, second)
    # once withheld, a report after the threshold was lowered stays withheld
    assert report(comment, withhold_at=0, counted=False).withheld
    assert report_state(comment.history) == Reports(2, True)


def test_a_repeat_report_withholds_when_the_open_count_already_meets_a_lowered_threshold():
    comment = published()
    for _ in range(2):
        reported(comment, report(comment, withhold_at=0))
    assert report_state(comment.history) == Reports(2, False)
    again = report(comment, withhold_at=2, counted=False)
    assert (again.counted, again.withheld) == (False, True)
    assert not report(comment, withhold_at=3, counted=False).withheld


def test_a_comment_never_published_has_no_reports_to_dismiss():
    with pytest.raises(DecisionRefused):
        dismiss_reports(pending(), "mod", None, NOW)
    assert report_state(pending().history) == Reports(0, False)


def test_no_threshold_never_withholds():
    comment = published()
    for _ in range(3):
        event = report(comment, withhold_at=0)
        assert not event.withheld
        reported(comment, event)


def test_dismissing_needs_open_reports_and_limits_the_note():
    comment = published()
    with pytest.raises(DecisionRefused):
        dismiss_reports(comment, "mod", None, NOW)
    reported(comment, report(comment, counted=False))  # recorded but not counted
    with pytest.raises(DecisionRefused):
        dismiss_reports(comment, "mod", None, NOW)
    reported(comment, report(comment))
    assert dismiss_reports(comment, "mod", "n" * NOTE_MAX, NOW).note == "n" * NOTE_MAX
    with pytest.raises(InvalidInput):
        dismiss_reports(comment, "mod", "n" * (NOTE_MAX + 1), NOW)


# -- sanctions ----------------------------------------------------------------------------

def standing(*events: object) -> Standing:
    return Standing.from_history(AUTHOR, list(events))


LATER = NOW + timedelta(days=3)


def test_a_new_author_has_no_sanction():
    s = standing()
    assert (s.version, s.sanction, s.until, s.history) == (0, None, None, [])
    assert s.live_sanction(NOW) is None


def test_a_warning_records_reason_and_note_and_changes_no_sanction():
    s = standing()
    warned = s.warn("mod", "threats", " last warning ", NOW, CATALOGUE)
    assert warned == AuthorWarned(AUTHOR, "mod", "threats", "last warning", NOW)
    s.apply(warned)
    assert (s.version, s.sanction, s.history) == (1, None, [warned])


def test_a_suspension_ends_by_itself_at_until():
    s = standing()
    suspended = s.suspend("mod", LATER, "threats", None, NOW, CATALOGUE)
    assert suspended == AuthorSuspended(AUTHOR, "mod", LATER, "threats", None, NOW)
    s.apply(suspended)
    assert (s.sanction, s.until) == (SUSPENDED, LATER)
    assert s.live_sanction(LATER - timedelta(microseconds=1)) == SUSPENDED
    assert s.live_sanction(LATER) is None
    with pytest.raises(DecisionRefused):
        s.lift("mod", None, LATER)


def test_a_suspension_needs_an_aware_end_in_the_future():
    s = standing()
    for until in (None, LATER.replace(tzinfo=None)):
        with pytest.raises(InvalidInput) as info:
            s.suspend("mod", until, "threats", None, NOW, CATALOGUE)
        assert info.value.errors == {"until": ["Required."]}
    for until in (NOW, NOW - timedelta(seconds=1)):
        with pytest.raises(InvalidInput) as info:
            s.suspend("mod", until, "threats", None, NOW, CATALOGUE)
        assert info.value.errors == {"until": ["Must be later than now."]}
    assert s.suspend("mod", NOW + timedelta(microseconds=1), "threats", None, NOW,
                     CATALOGUE).until == NOW + timedelta(microseconds=1)


def test_a_ban_replaces_a_suspension_and_a_suspension_does_not_soften_a_ban():
    s = standing()
    s.apply(s.suspend("mod", LATER, "threats", None, NOW, CATALOGUE))
    banned = s.ban("mod", "threats", None, 1, NOW, CATALOGUE)
    assert banned == AuthorBanned(AUTHOR, "mod", "threats", None, True, NOW)
    s.apply(banned)
    assert (s.sanction, s.until, s.version) == (BANNED, None, 2)
    assert s.live_sanction(LATER + timedelta(days=365)) == BANNED
    with pytest.raises(DecisionRefused):
        s.suspend("mod", LATER, "threats", None, NOW, CATALOGUE)
    with pytest.raises(DecisionRefused):
        s.ban("mod", "threats", None, False, NOW, CATALOGUE)
    assert not standing().ban("mod", "threats", None, 0, NOW, CATALOGUE).reject_pending


def test_lifting_ends_the_live_sanction_and_names_it():
    s = standing()
    with pytest.raises(DecisionRefused):
        s.lift("mod", None, NOW)
    s.apply(s.ban("mod", "threats", None, False, NOW, CATALOGUE))
    lifted = s.lift("mod2", " appeal granted ", NOW)
    assert lifted == AuthorSanctionLifted(AUTHOR, "mod2", BANNED, "appeal granted", NOW)
    s.apply(lifted)
    assert (s.sanction, s.until, s.live_sanction(NOW)) == (None, None, None)
    s.apply(s.suspend("mod", LATER, "threats", None, NOW, CATALOGUE))
    assert s.lift("mod", None, NOW).lifted == SUSPENDED
    with pytest.raises(InvalidInput):
        s.lift("mod", "n" * (NOTE_MAX + 1), NOW)
    assert s.lift("mod", "n" * NOTE_MAX, NOW).note == "n" * NOTE_MAX


def test_a_note_about_an_author_is_required_text_with_an_exact_limit():
    s = standing()
    noted = s.note("mod", " asked to be contacted ", NOW)
    assert noted == AuthorNoted(AUTHOR, "mod", "asked to be contacted", NOW)
    assert TEXT_MAX == 2000
    assert s.note("mod", "t" * TEXT_MAX, NOW).text == "t" * TEXT_MAX
    assert s.note("mod", "t", NOW).text == "t"
    for bad in ("t" * (TEXT_MAX + 1), "", "  ", None):
        with pytest.raises(InvalidInput):
            s.note("mod", bad, NOW)


@pytest.mark.parametrize("reason", [None, "", 5])
def test_a_sanction_needs_a_reason(reason):
    with pytest.raises(InvalidInput) as info:
        standing().warn("mod", reason, None, NOW, CATALOGUE)
    assert info.value.errors == {"reason": ["A guideline code from GET /v1/guidelines."]}


def test_an_unknown_reason_is_reported_under_reason():
    with pytest.raises(UnknownReason) as info:
        standing().warn("mod", "bogus", None, NOW, CATALOGUE)
    assert info.value.errors == {"reason": ["Unknown reason code 'bogus'."]}


def test_the_reason_other_needs_a_note():
    with pytest.raises(NoteRequired) as info:
        standing().ban("mod", "other", None, False, NOW, CATALOGUE)
    assert info.value.errors == {"note": ["A note is required for this reason."]}
    assert standing().ban("mod", "other", "spam ring", False, NOW, CATALOGUE).note == \
        "spam ring"
    assert standing().warn("mod", "threats", "n" * NOTE_MAX, NOW, CATALOGUE).note == \
        "n" * NOTE_MAX
    with pytest.raises(InvalidInput):
        standing().warn("mod", "threats", "n" * (NOTE_MAX + 1), NOW, CATALOGUE)


def test_who_may_comment():
    check_may_comment(None, None, NOW)
    check_may_comment(SUSPENDED, NOW, NOW)  # it ended just now
    check_may_comment(SUSPENDED, None, NOW)  # a suspension without an end is none
    with pytest.raises(AuthorIsSuspended) as info:
        check_may_comment(SUSPENDED, LATER, NOW)
    assert info.value.until == LATER
    with pytest.raises(AuthorIsBanned):
        check_may_comment(BANNED, None, NOW)
    assert current_sanction(BANNED, None, NOW) == BANNED
    assert current_sanction(SUSPENDED, LATER, NOW) == SUSPENDED


# -- the guideline catalogue --------------------------------------------------------------

def test_reasons_are_checked_deduplicated_in_order():
    assert CATALOGUE.check_reasons(["threats", "off_topic", "threats"]) == (
        "threats", "off_topic")
    assert CATALOGUE.check_reasons(("other",)) == ("other",)
    for bad in ([], (), None, "threats"):
        with pytest.raises(UnknownReason) as info:
            CATALOGUE.check_reasons(bad)
        assert info.value.errors == {"reasons": ["At least one reason code is required."]}
    with pytest.raises(UnknownReason) as info:
        CATALOGUE.check_reasons(["threats", "nope", 3])
    assert info.value.errors == {"reasons": ["Unknown reason code 'nope'.",
                                             "Unknown reason code 3."]}


def test_the_catalogue_looks_codes_up():
    assert "threats" in CATALOGUE and "nope" not in CATALOGUE
    assert CATALOGUE.get("other").note_required
    assert CATALOGUE.codes[0] == "profanity" and len(CATALOGUE.codes) == 12
    assert CATALOGUE.note_required_for(("threats", "other"))
    assert not CATALOGUE.note_required_for(("threats", "off_topic"))


# -- stream names and fingerprints --------------------------------------------------------

def test_stream_names():
    from service.domain import events

    assert events.comment_stream("c1") == "comment-c1"
    assert events.article_stream("a1") == "article-a1"
    assert events.token_stream(7) == "token-7"
    assert events.webhook_endpoint_stream(3) == "webhook-endpoint-3"
    assert events.author_stream(AUTHOR) == AUTHOR
    assert events.author_stream("x1") == "author-x1"


@pytest.mark.parametrize(("url", "origin"), [
    ("https://hooks.example.org/p/secret?token=1", "https://hooks.example.org"),
    ("https://hooks.example.org:8443/p", "https://hooks.example.org:8443"),
    ("http://[2001:db8::1]:9000/x", "http://[2001:db8::1]:9000"),
    ("http://[2001:db8::1]/x", "http://[2001:db8::1]"),
    ("https://h.example:99999/x", "https://h.example"),  # an impossible port is left out
    ("mailto:x", "mailto://"),
])
def test_a_url_is_recorded_as_its_origin_and_digest(url, origin):
    import hashlib

    from service.domain.events import url_fingerprint

    assert url_fingerprint(url) == (origin, hashlib.sha256(url.encode()).hexdigest())


# -- refusals -----------------------------------------------------------------------------

def test_refusals_carry_their_details_for_the_error_body():
    from service.domain.errors import ArticleIsClosed, DomainError

    assert DomainError("x").details == {} and DomainError("x").errors == {}
    closed = ArticleIsClosed("a1", "Closed after a week.")
    assert closed.details == {"closed_message": "Closed after a week."}
    assert closed.message == "article a1 is closed to new comments: Closed after a week."
    assert ArticleIsClosed("a1", None).message == "article a1 is closed to new comments"
    suspended = AuthorIsSuspended(LATER)
    assert suspended.details == {"until": LATER.isoformat()}
    assert suspended.message == f"this author is suspended until {LATER.isoformat()}"
