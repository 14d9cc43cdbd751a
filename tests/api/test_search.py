"""Searching comments: folded text in four languages, filters, cursor, roles, erasure."""

from __future__ import annotations

from .helpers import approve, assert_error, bearer, reject, submitted_id


def find(client, token, **query):  # noqa: ANN001, ANN201
    response = client.get("/v1/comments", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_text_search_folds_like_screening(client, tokens, article, services):
    kurmanji = submitted_id(client, article, body="Hêvî dike ku rewş baştir bibe.")
    arabic = submitted_id(client, article, body="أنا أؤيد هذا الرأي")
    english = submitted_id(client, article, body="The CAMP is overcrowded")
    sorani = submitted_id(client, article, body="ئەم هەواڵە زۆر گرنگە")
    ids = lambda page: [c["id"] for c in page["items"]]  # noqa: E731
    assert ids(find(client, tokens.moderator, q="hevi")) == [kurmanji]
    assert ids(find(client, tokens.moderator, q="HÊVÎ rews")) == [kurmanji]
    assert ids(find(client, tokens.moderator, q="اؤيد")) == [arabic]  # أ and ا meet
    assert ids(find(client, tokens.moderator, q="camp overcrowded")) == [english]
    assert ids(find(client, tokens.moderator, q="هەواڵە")) == [sorani]
    assert ids(find(client, tokens.moderator, q="camp nowhere")) == []
    assert ids(find(client, tokens.moderator, q="50%_")) == []


def test_filters_and_cursor(client, tokens, article, services, clock):
    a = submitted_id(client, article, body="storm one", email="a@example.org")
    clock.advance(hours=1)
    b = submitted_id(client, article, body="storm two")
    c = submitted_id(client, article, body="storm three")
    approve(client, tokens.moderator, a)
    reject(client, tokens.moderator, b, ["off_topic"])
    author = services.queries.comment(a)["author_id"]
    ids = lambda page: [x["id"] for x in page["items"]]  # noqa: E731
    assert ids(find(client, tokens.moderator, q="storm")) == [c, b, a]
    assert ids(find(client, tokens.moderator, q="storm", status="rejected")) == [b]
    assert ids(find(client, tokens.moderator, author_id=author)) == [a]
    assert ids(find(client, tokens.moderator, flag="first_comment", q="storm one")) == [a]
    assert ids(find(client, tokens.moderator, until="2026-11-01T09:30:00Z")) == [a]
    assert ids(find(client, tokens.moderator, since="2026-11-01T09:30:00Z")) == [c, b]
    assert ids(find(client, tokens.moderator, article_id="elsewhere")) == []
    first = find(client, tokens.moderator, q="storm", limit=2)
    assert ids(first) == [c, b]
    rest = find(client, tokens.moderator, q="storm", limit=2, cursor=first["next_cursor"])
    assert ids(rest) == [a] and rest["next_cursor"] is None


def test_bad_input_and_roles(client, tokens, article):
    assert_error(client.get("/v1/comments"), 401, "unauthenticated")
    assert_error(client.get("/v1/comments", headers=bearer(tokens.auditor)), 403, "forbidden")
    for query in ({"status": "gone"}, {"q": "a\x00b"}, {"limit": 0}, {"nope": 1},
                  {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}):
        assert_error(client.get("/v1/comments", query_string=query,
                                headers=bearer(tokens.moderator)), 422, "validation_failed")
    assert_error(client.get("/v1/comments", query_string={"cursor": "x!"},
                            headers=bearer(tokens.moderator)), 400, "invalid_cursor")


def test_erasing_an_author_removes_their_text_from_the_index(client, tokens, article,
                                                             services):
    mine = submitted_id(client, article, body="secretword here", email="me@example.org")
    author = services.queries.comment(mine)["author_id"]
    assert len(find(client, tokens.moderator, q="secretword")["items"]) == 1
    erased = client.post(f"/v1/authors/{author}/erasure", json={"note": "ticket 9"},
                         headers=bearer(tokens.admin))
    assert erased.status_code == 200, erased.get_json()
    assert find(client, tokens.moderator, q="secretword")["items"] == []
    from service.db import read_transaction

    with read_transaction(services.engine) as conn:
        assert "secretword" not in str(conn.exec_driver_sql(
            "SELECT folded FROM comment_search").all())
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_query_syntax_in_q_is_plain_words(client, tokens, article):
    """FTS operators and punctuation are words or nothing, never syntax: no 500."""
    camp = submitted_id(client, article, body='The camp -- or is it "near" the river?*')
    other = submitted_id(client, article, body="A quiet river")
    ids = lambda page: [c["id"] for c in page["items"]]  # noqa: E731
    for q in ('"', "*", "-", "NEAR(", "^", ":", "(", ")", "'", "%", "\\", "AND", "NOT"):
        find(client, tokens.moderator, q=q)  # 200, whatever it finds
    assert ids(find(client, tokens.moderator, q='"')) == []  # no word in it
    assert ids(find(client, tokens.moderator, q="OR")) == [camp]  # the word "or"
    assert ids(find(client, tokens.moderator, q="camp OR quiet")) == []  # not a union
    assert ids(find(client, tokens.moderator, q="river -camp")) == [camp]  # not a negation
    assert ids(find(client, tokens.moderator, q="NEAR(camp river)")) == [camp]
    assert ids(find(client, tokens.moderator, q='"camp" river*')) == [camp]
    assert ids(find(client, tokens.moderator, q="riv*")) == []  # whole words, no prefixes
    assert ids(find(client, tokens.moderator, q="river")) == [other, camp]
    assert ids(find(client, tokens.moderator, q="camp\" OR \"quiet")) == []


def test_words_in_arabic_sorani_and_kurmanji(client, tokens, article):
    arabic = submitted_id(client, article, body="الحرية للجميع في هذه المدينة")
    sorani = submitted_id(client, article, body="خەڵکی کوردستان ئازادی دەوێت")
    kurmanji = submitted_id(client, article, body="Azadî ji bo hemû gelê Kurdistanê")
    ids = lambda page: [c["id"] for c in page["items"]]  # noqa: E731
    assert ids(find(client, tokens.moderator, q="المدينة")) == [arabic]
    assert ids(find(client, tokens.moderator, q="الحریة")) == [arabic]  # ی and ي meet
    assert ids(find(client, tokens.moderator, q="الحرب")) == []  # another word
    assert ids(find(client, tokens.moderator, q="الحرية المدينة")) == [arabic]
    assert ids(find(client, tokens.moderator, q="کوردستان")) == [sorani]
    assert ids(find(client, tokens.moderator, q="ئازادی خەڵکی")) == [sorani]
    assert ids(find(client, tokens.moderator, q="azadi kurdistane")) == [kurmanji]
    assert ids(find(client, tokens.moderator, q="AZADÎ")) == [kurmanji]


def test_every_word_must_match(client, tokens, article):
    both = submitted_id(client, article, body="flood warning for the valley")
    one = submitted_id(client, article, body="flood in the city")
    ids = lambda page: [c["id"] for c in page["items"]]  # noqa: E731
    assert ids(find(client, tokens.moderator, q="flood")) == [one, both]
    assert ids(find(client, tokens.moderator, q="flood valley")) == [both]
    assert ids(find(client, tokens.moderator, q="valley flood warning")) == [both]
    assert ids(find(client, tokens.moderator, q="flood valley city")) == []
