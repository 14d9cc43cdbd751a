"""Length limits exactly at their boundaries: the last length accepted and the first refused."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.comment import NOTE_MAX, Comment, Status
from service.domain.errors import InvalidInput, NoteRequired
from service.domain.guidelines import CATALOGUE
from service.domain.text import clean_name, clean_text, has_visible, optional_text

from .test_domain import NOW, pending, submitted


def test_a_note_of_exactly_2000_characters_is_kept_and_2001_refused():
    assert NOTE_MAX == 2000
    decided = pending().approve("m1", "n" * 2000, NOW)
    assert decided.note == "n" * 2000
    with pytest.raises(InvalidInput) as info:
        pending().approve("m1", "n" * 2001, NOW)
    assert info.value.errors == {"note": ["Longer than maximum length 2000."]}


def test_an_author_name_of_exactly_80_characters_is_kept_and_81_refused():
    assert submitted(author_name="N" * 80).author_name == "N" * 80
    with pytest.raises(InvalidInput) as info:
        submitted(author_name="N" * 81)
    assert info.value.errors == {"author.name": ["Longer than maximum length 80."]}


def test_an_email_of_exactly_254_characters_is_kept_and_255_refused():
    at_limit = "a" * 60 + "@" + "b" * 189 + ".org"
    assert len(at_limit) == 254
    assert submitted(author_email=at_limit).author_email == at_limit
    too_long = "a" * 60 + "@" + "b" * 190 + ".org"
    with pytest.raises(InvalidInput) as info:
        submitted(author_email=too_long)
    assert info.value.errors == {"author.email": ["Longer than maximum length 254."]}


def test_a_valid_email_is_returned_as_given_and_an_absent_one_stays_absent():
    assert submitted(author_email="  hevi@example.org ").author_email == "hevi@example.org"
    assert submitted(author_email=None).author_email is None
    assert submitted(author_email="").author_email is None
    with pytest.raises(InvalidInput) as info:
        submitted(author_email="not-an-address")
    assert info.value.errors == {"author.email": ["Not a valid e-mail address."]}


@pytest.mark.parametrize("min_len", [1, 3])
def test_min_len_accepts_exactly_min_len_and_refuses_one_less(min_len):
    assert clean_text("x" * min_len, "f", min_len=min_len, max_len=10) == "x" * min_len
    with pytest.raises(InvalidInput) as info:
        clean_text("x" * (min_len - 1), "f", min_len=min_len, max_len=10)
    expected = ("Text must not be empty." if min_len == 1
                else f"Text must be at least {min_len} characters.")
    assert info.value.errors == {"f": [expected]}
    assert info.value.message == "f " + expected[5:-1]


def test_max_len_counts_after_trimming_and_normalising():
    assert clean_text("  abc  ", "f", min_len=1, max_len=3) == "abc"
    assert clean_text("e\u0301" * 3, "f", min_len=1, max_len=3) == "\u00e9" * 3
    with pytest.raises(InvalidInput):
        clean_text("abcd", "f", min_len=1, max_len=3)


def test_text_errors_name_the_problem():
    with pytest.raises(InvalidInput) as info:
        clean_text(5, "f", min_len=1, max_len=3)
    assert info.value.errors == {"f": ["Must be a string."]}
    with pytest.raises(InvalidInput) as info:
        clean_text("a\x07b", "f", min_len=1, max_len=3)
    assert info.value.errors == {"f": ["Text contains a control character U+0007."]}
    with pytest.raises(InvalidInput) as info:
        clean_text("a\ud800", "f", min_len=1, max_len=3)
    assert "surrogate" in info.value.message
    assert clean_text("a\tb\nc\r", "f", min_len=1, max_len=9) == "a\tb\nc"


def test_optional_text_is_none_when_absent_or_blank_and_kept_otherwise():
    assert optional_text(None, "f", max_len=3) is None
    assert optional_text("   ", "f", max_len=3) is None
    assert optional_text(" ab ", "f", max_len=3) == "ab"
    with pytest.raises(InvalidInput):
        optional_text("abcd", "f", max_len=3)


def test_a_first_decision_needs_no_note_and_a_blank_note_cannot_change_one():
    decided = pending().approve("m1", None, NOW)
    assert decided.note is None
    assert decided.previous_status == Status.PENDING.value
    approved = Comment.from_history("c1", [submitted(), decided])
    with pytest.raises(NoteRequired):
        approved.reject("m2", ["threats"], "  ", NOW, CATALOGUE)


INVISIBLE_ONLY = ["\u200b", "\u200b\u200b", "\ufeff", "\u202e", "\u2066\u2069", "\u3164",
                  "\u2800", " \u00a0\u2003 "]


@pytest.mark.parametrize("text", INVISIBLE_ONLY)
def test_required_text_needs_a_visible_character(text):
    with pytest.raises(InvalidInput) as raised:
        clean_text(text, "body", min_len=1, max_len=100)
    assert "body" in raised.value.errors


@pytest.mark.parametrize("text", INVISIBLE_ONLY[:5])
def test_an_invisible_note_cannot_change_a_decision(text):
    comment = pending()
    comment.apply(comment.approve("mod", note=None, now=NOW))
    with pytest.raises(InvalidInput):
        comment.reject("mod", ["off_topic"], note=text, catalogue=CATALOGUE, now=NOW)


@pytest.mark.parametrize("name", ["Ali\nAdmin", "Ali\rAdmin", "a\u2028b", "tab\tname",
                                  "\u202eevil", "iso\u2067late\u2069", "emb\u202bx\u202c"])
def test_names_are_one_line_without_bidi_controls(name):
    with pytest.raises(InvalidInput) as raised:
        clean_name(name, "author.name", max_len=80)
    assert "author.name" in raised.value.errors


@pytest.mark.parametrize("text", ["\u200fمرحبا\u200e hello", "کوردستان\u200cی",
                                  "👩🏽\u200d💻", "a\u200b", "\U000e0061x", "\U00011af9"])
def test_visible_text_keeps_its_marks_byte_for_byte(text):
    assert clean_text(text, "body", min_len=1, max_len=100) == text
    assert clean_name(text, "author.name", max_len=80) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
               max_size=40))
def test_text_is_refused_exactly_when_nothing_in_it_is_visible(text):
    try:
        kept = clean_text(text, "body", min_len=1, max_len=100)
    except InvalidInput:
        assert not has_visible(text)
    else:
        assert has_visible(kept) and kept == unicodedata.normalize("NFC", text).strip()


def test_a_one_character_body_is_a_comment():
    assert submitted("!").body == "!"
    assert submitted("ئ").body == "ئ"


def test_new_comment_ids_are_distinct_uuids():
    import uuid

    from service.domain.comment import new_comment_id

    first, second = new_comment_id(), new_comment_id()
    assert first != second and str(uuid.UUID(first)) == first


def test_the_last_decision_is_the_latest_approval_or_rejection():
    comment = pending()
    approved = comment.approve("mod-a", note=None, now=NOW)
    comment.apply(approved)
    assert comment.last_decision == approved
    rejected = comment.reject("mod-b", ["off_topic"], note="on reflection", now=NOW,
                              catalogue=CATALOGUE)
    comment.apply(rejected)
    assert comment.last_decision == rejected
