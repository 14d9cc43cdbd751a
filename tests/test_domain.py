"""Unit tests of the moderation rules: no database, no framework."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.comment import Comment, Status, SubmissionRules, submit_comment
from service.domain.errors import (
    CommentNotFound,
    DecisionRefused,
    InvalidInput,
    NoteRequired,
    UnknownReason,
)
from service.domain.guidelines import CATALOGUE
from service.domain.text import clean_text, has_visible

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULES = SubmissionRules()


def submitted(body: object = "A fair point about the camps.", **overrides: object):
    args = dict(comment_id="c1", article_id="a1", parent=None, author_id="author-1",
                author_name="Dilan", author_email=None, network_address=None, body=body,
                now=NOW, rules=RULES)
    args.update(overrides)
    return submit_comment(**args)


def pending() -> Comment:
    return Comment.from_history("c1", [submitted()])


def test_a_new_comment_is_pending_at_version_1():
    comment = pending()
    assert comment.status is Status.PENDING
    assert comment.version == 1
    assert comment.last_decision is None


def test_a_comment_without_history_does_not_exist():
    with pytest.raises(CommentNotFound):
        Comment.from_history("c1", [])


def test_approve_then_reject_needs_a_note_and_keeps_the_first_decision():
    comment = pending()
    approved = comment.approve("mod-a", None, NOW)
    comment.apply(approved)
    with pytest.raises(NoteRequired):
        comment.reject("mod-b", ["personal_attack"], None, NOW, CATALOGUE)
    rejected = comment.reject("mod-b", ["personal_attack"], "reader complaint upheld", NOW,
                              CATALOGUE)
    comment.apply(rejected)
    assert comment.status is Status.REJECTED
    assert rejected.previous_status == "approved"
    assert comment.history[1] is approved
    assert comment.version == 3


def test_rejected_then_approved_on_appeal_needs_a_note():
    comment = pending()
    comment.apply(comment.reject("mod-a", ["off_topic"], None, NOW, CATALOGUE))
    with pytest.raises(NoteRequired):
        comment.approve("mod-b", "   ", NOW)
    event = comment.approve("mod-b", "on topic after all: it is about the camps", NOW)
    assert event.previous_status == "rejected"


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_deciding_the_same_thing_twice_is_refused(first):
    comment = pending()
    decide = {
        "approve": lambda c: c.approve("m", "note", NOW),
        "reject": lambda c: c.reject("m", ["threats"], "note", NOW, CATALOGUE),
    }[first]
    comment.apply(decide(comment))
    with pytest.raises(DecisionRefused):
        decide(comment)


@pytest.mark.parametrize("reasons", [[], None, "profanity", ["nope"], ["profanity", 3]])
def test_rejection_reasons_must_be_known_codes(reasons):
    with pytest.raises(UnknownReason):
        pending().reject("m", reasons, None, NOW, CATALOGUE)


def test_reason_other_needs_a_note_and_the_catalogue_version_is_recorded():
    with pytest.raises(NoteRequired):
        pending().reject("m", ["other"], None, NOW, CATALOGUE)
    event = pending().reject("m", ["other", "other"], "spam ring", NOW, CATALOGUE)
    assert event.reasons == ("other",)
    assert event.guideline_version == CATALOGUE.version


def test_the_catalogue_covers_every_community_guideline():
    groups = {CATALOGUE.get(code).group for code in CATALOGUE.codes}
    assert {"profanity", "threats", "personal_attack", "vulgarity", "abuse", "promotion",
            "relevance", "other"} <= groups
    for code in ("abuse_sexism", "abuse_racism", "abuse_homophobia", "abuse_xenophobia",
                 "commercial_promotion", "personal_promotion", "off_topic"):
        assert code in CATALOGUE


@pytest.mark.parametrize("body", ["", "   \n\t ", None, 42, "x" * 5001, "bad\x00nul",
                                  "bell\x07", "lone \ud800 surrogate"])
def test_invalid_bodies_are_refused(body):
    with pytest.raises(InvalidInput) as info:
        submitted(body)
    assert "body" in info.value.errors


def test_body_limit_is_configurable_and_counts_characters_not_bytes():
    arabic = "ب" * 5000
    assert submitted(arabic).body == arabic
    with pytest.raises(InvalidInput):
        submitted("abc", rules=SubmissionRules(body_max=2))


def test_every_field_error_is_reported_at_once():
    with pytest.raises(InvalidInput) as info:
        submitted("", author_name="", author_email="not-an-email", network_address="999.1.1.1")
    assert set(info.value.errors) == {"body", "author.name", "author.email", "network_address"}


def test_replies_must_be_on_the_same_article_and_not_under_a_rejected_comment():
    parent = pending()
    with pytest.raises(InvalidInput):
        submitted(parent=parent, article_id="other-article")
    parent.apply(parent.reject("m", ["threats"], None, NOW, CATALOGUE))
    with pytest.raises(InvalidInput):
        submitted(parent=parent)


RTL_SAMPLES = [
    "ئەم هەواڵە زۆر گرنگە \u200f👍",
    "هذا الخبر مهم جدا، شكرا للصحفي",
    "Ev nûçe gelek girîng e. Spas!",
    "Line one\nLine two\twith tab",
    "\u202bembedded RTL\u202c and ZWJ family 👨\u200d👩\u200d👧",
]


@pytest.mark.parametrize("text", RTL_SAMPLES)
def test_arabic_kurdish_emoji_and_bidi_marks_survive_exactly(text):
    assert submitted(text).body == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
               max_size=300))
def test_clean_text_is_nfc_trimmed_and_idempotent(text):
    try:
        once = clean_text(text, "body", min_len=1, max_len=5000)
    except InvalidInput:  # nothing visible is left (empty, spaces, zero-width marks)
        assert not has_visible(unicodedata.normalize("NFC", text).strip())
        return
    assert once == unicodedata.normalize("NFC", once)
    assert once == once.strip()
    assert clean_text(once, "body", min_len=1, max_len=5000) == once
