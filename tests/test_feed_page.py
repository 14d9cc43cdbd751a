"""The public feed page read straight from the stored JSON equals the page decoded event
by event (RecordedEvents, the codec's public payload, the erased marks), on both databases:
the same entries, values and key order, for every role's filter."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.application.commands import Context, RegisterArticle, SubmitComment
from service.application.queries import _mark_erased
from service.application.visibility import hidden_types
from service.db import read_transaction, write_transaction
from service.domain.events import EVENT_TYPES, CommentScreened, CommentSubmitted
from service.eventstore import ANY, NewEvent

from .test_application import ADMIN, MOD


def reference(services, **kw) -> list[dict]:  # noqa: ANN001
    """The page as the feed built it before it read the JSON itself."""
    with read_transaction(services.engine) as conn:
        codec = services.codec_for(conn)
        recorded = services.store.read_all(conn, **kw)
        return _mark_erased(codec, [(r, codec.public_payload(r)) for r in recorded])


def same(services, *, after: int = 0, limit: int = 1000, types=None,  # noqa: ANN001
         hidden=frozenset()) -> list[dict]:  # noqa: ANN001
    page = services.queries.feed(after=after, limit=limit, types=types, hidden=hidden)
    expected = reference(services, after=after, limit=limit, types=types,
                         exclude_types=hidden)
    assert page == expected
    # equal dicts may still differ in key order, which the JSON a client reads shows
    assert json.dumps(page, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    return page


def test_a_moderated_log_with_an_erasure_and_an_old_schema_reads_alike(services):
    services.moderation.register_article(RegisterArticle("a-1", "Raqqa"), ADMIN)
    kept = services.moderation.submit_comment(SubmitComment(
        "a-1", "Hêvî", "ڕەخنەیەکی باش — visit spam.example",
        author_email="hevi@example.org", network_address="203.0.113.9"), Context())
    gone = services.moderation.submit_comment(SubmitComment(
        "a-1", "Rojda", "Another view", author_email="rojda@example.org"),
        Context())
    anonymous = services.moderation.submit_comment(SubmitComment("a-1", "Reader", "No e-mail"),
                                                   Context())
    services.privacy.erase(services.queries.comment(gone.id)["author_id"], "ticket 3", ADMIN)
    with write_transaction(services.engine) as conn:  # written before evidence was sealed
        services.store.append(conn, "comment-old", [NewEvent(CommentScreened.TYPE, {
            "comment_id": "old", "risk": 0.25, "screener": "rules",
            "screened_at": "2025-01-01T00:00:00+00:00",
            "flags": [{"code": "link", "guideline": None, "evidence": "spam.example"}]},
            {"actor": {"id": "x", "role": "system"}, "note": "ü"}, schema_version=1)], ANY)
    page = same(services)
    erased = {e["data"]["comment_id"]: e["data"]["erased"] for e in page
              if e["type"] == CommentSubmitted.TYPE}
    assert erased == {kept.id: False, gone.id: True, anonymous.id: False}
    old = page[-1]["data"]
    assert old["flags"] == [{"code": "link", "guideline": None}] and "spam.example" not in \
        json.dumps(page)
    assert not any("personal" in e["data"] or "evidence" in e["data"] for e in page)
    for after in range(len(page)):
        same(services, after=after, limit=2)
    same(services, types=[CommentSubmitted.TYPE, CommentScreened.TYPE], limit=3)
    same(services, hidden=hidden_types(MOD.actor.role))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=5), inner, max_size=3),
    max_leaves=8)
KEYS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=8)
PAYLOAD = st.dictionaries(KEYS, JSON, max_size=4)
SEALED = st.fixed_dictionaries({"subject": st.sampled_from(["author-held", "author-gone"]),
                                "ciphertext": st.text(max_size=5)})
EVENT = st.tuples(st.sampled_from(sorted(EVENT_TYPES)), PAYLOAD, PAYLOAD,
                  st.none() | SEALED, st.booleans())


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=4))
def test_any_stored_payload_reads_alike(services, events):  # noqa: ANN001
    with write_transaction(services.engine) as conn:
        codec = services.codec_for(conn)
        if not codec.vault.holds("author-held"):
            codec.vault.seal("author-held", {"x": 1}, "x")
        start = services.store.head(conn)
        for type_, data, metadata, sealed, evidence in events:
            if sealed is not None:
                data = {**data, "personal": sealed}
            if evidence:
                data = {**data, "evidence": {"subject": "author-held"},
                        "unsealed_evidence": ["x"]}
            schema = 2 if type_ == CommentScreened.TYPE else 1
            services.store.append(conn, "stream-x", [NewEvent(type_, data, metadata,
                                                              schema_version=schema)], ANY)
    same(services, after=start)
