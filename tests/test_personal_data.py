"""The codec's sealing of screening evidence, and old unsealed events read through it."""

from __future__ import annotations

from datetime import UTC, datetime

from service.domain.events import CommentScreened, Flag
from service.eventstore import RecordedEvent
from service.eventstore.codec import EventCodec
from service.eventstore.personal_data import PersonalDataVault

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _recorded(type_: str, schema: int, data: dict) -> RecordedEvent:
    return RecordedEvent(1, "00000000-0000-0000-0000-000000000001", "comment-x", 2, type_,
                         schema, data, {}, AT)


def test_evidence_is_sealed_and_opens_only_while_the_key_exists(services):
    flags = (Flag("email_address", "commercial_promotion", "someone@example.org"),
             Flag("first_comment", None, "the author's first comment"))
    event = CommentScreened("c-1", flags, 0.5, "rules", AT, "author-" + "a" * 32)
    with services.engine.begin() as conn:
        codec = EventCodec(PersonalDataVault(conn, services.clock))
        type_, schema, data = codec.encode(event)
        assert schema == 2
        assert "someone@example.org" not in str(data)
        assert data["flags"] == [{"code": "email_address", "guideline": "commercial_promotion"},
                                 {"code": "first_comment", "guideline": None}]
        recorded = _recorded(type_, schema, data)
        assert codec.decode(recorded) == event
        hidden = codec.decode(recorded, personal=False)
        assert [f.evidence for f in hidden.flags] == [None, None]
        assert "evidence" not in codec.public_payload(recorded)
        codec.vault.erase(event.author_id)
        assert [f.evidence for f in codec.decode(recorded).flags] == [None, None]
        conn.rollback()


def test_screening_without_flags_or_author_stores_no_evidence(services):
    with services.engine.begin() as conn:
        codec = EventCodec(PersonalDataVault(conn, services.clock))
        assert codec.encode(CommentScreened("c-2", (), 0.0, "rules", AT, "author-x"))[2][
            "evidence"] is None
        bench = codec.encode(CommentScreened("c-3", (Flag("link", None, "x.example"),), 0.1,
                                             "rules", AT))[2]
        assert bench["evidence"] is None and "x.example" not in str(bench)
        conn.rollback()


def test_version_1_events_with_plain_evidence_are_upcast(services):
    v1 = {"comment_id": "c-4", "risk": 0.2, "screener": "rules",
          "screened_at": AT.isoformat(),
          "flags": [{"code": "link", "guideline": "commercial_promotion",
                     "evidence": "spam.example"}]}
    with services.engine.begin() as conn:
        codec = EventCodec(PersonalDataVault(conn, services.clock))
        recorded = _recorded(CommentScreened.TYPE, 1, v1)
        assert codec.decode(recorded).flags == (
            Flag("link", "commercial_promotion", "spam.example"),)
        assert codec.decode(recorded, personal=False).flags[0].evidence is None
        public = codec.public_payload(recorded)
        assert public["flags"] == [{"code": "link", "guideline": "commercial_promotion"}]
        assert "spam.example" not in str(public)
        conn.rollback()


def test_a_day_key_is_shared_across_transactions_only_once_committed(services):
    from service.eventstore.personal_data import address_subject

    day_keys: dict[str, bytes] = {}
    subject = address_subject(AT.date())
    with services.engine.begin() as conn:  # made, then rolled back: must not be shared
        PersonalDataVault(conn, services.clock, day_keys=day_keys).seal(subject, {"a": 1}, "x")
        conn.rollback()
    assert day_keys == {}
    with services.engine.begin() as conn:
        sealed = PersonalDataVault(conn, services.clock, day_keys=day_keys).seal(
            subject, {"a": 2}, "x")
    assert day_keys == {}  # made in that transaction: shared from the next one on
    with services.engine.begin() as conn:
        again = PersonalDataVault(conn, services.clock, day_keys=day_keys).seal(
            subject, {"a": 3}, "x")
    assert list(day_keys) == [subject]
    with services.engine.begin() as conn:
        vault = PersonalDataVault(conn, services.clock)
        assert vault.open(sealed, "x") == {"a": 2} and vault.open(again, "x") == {"a": 3}
