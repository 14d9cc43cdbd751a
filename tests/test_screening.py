"""Advisory screening: flags with evidence and a risk score, never a decision."""

from __future__ import annotations

import pytest

from service.application.commands import Actor, Context, RegisterArticle, SubmitComment
from service.screening.normalise import tokens
from service.screening.rules import AuthorHistory, promotion_flags
from service.screening.screener import Screener
from service.screening.wordlists import WordLists

KNOWN = AuthorHistory(earlier_comments=3, has_same_text=False)


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.from_directory()


def codes(screening):
    return {f.code for f in screening.flags}


@pytest.mark.parametrize("text", [
    "What a load of shit", "what a load of SHIIIIT", "what a load of sh1t",
    "what a load of s h i t", "what a load of s.h.i.t", "what a load of sh*t",
    "this is \u200fshit\u200f",
])
def test_disguised_profanity_is_caught(screener, text):
    result = screener.screen(text, KNOWN)
    assert "profanity" in codes(result)
    assert any("shit" in f.evidence for f in result.flags)


@pytest.mark.parametrize(("text", "term"), [
    ("أنت حمار", "حمار"),
    ("والحمار لا يفهم", "حمار"),           # Arabic prefix
    ("تۆ سەگگگی", "سەگ"),                 # Sorani, repeated letter and suffix
    ("tu kûçik î", "kûçik"),
    ("tu kucik î", "kucik"),
])
def test_arabic_and_kurdish_entries_match_on_normalised_text(screener, text, term):
    result = screener.screen(text, KNOWN)
    assert any(term in f.evidence for f in result.flags), result


@pytest.mark.parametrize("text", [
    "A thoughtful comment about the camps at al-Hol.",
    "ئەم هەواڵە زۆر گرنگە",
    "Ev nûçe gelek girîng e, spas.",
    "The class assessment was classic.",
])
def test_ordinary_comments_raise_no_flags(screener, text):
    assert screener.screen(text, KNOWN).flags == ()
    assert screener.screen(text, KNOWN).risk == 0.0


def test_promotion_signs_use_real_extractors(screener):
    result = screener.screen(
        "Cheap flights at www.cheap-flights.example.com, write to deals@example.com or "
        "call +964 750 123 4567", KNOWN)
    evidence = {f.code: f.evidence for f in result.flags}
    assert evidence["link"] == "www.cheap-flights.example.com"
    assert evidence["email_address"] == "deals@example.com"
    assert evidence["phone_number"] == "+964 750 123 4567"
    assert all(f.guideline == "commercial_promotion" for f in result.flags)


def test_threats_shouting_first_comments_and_repeats(screener):
    assert "threat_phrase" in codes(screener.screen("People like you should be shot", KNOWN))
    assert "shouting" in codes(screener.screen("THIS IS A DISGRACE AND EVERYONE KNOWS", KNOWN))
    assert "shouting" not in codes(screener.screen("OK", KNOWN))
    first = screener.screen("Hello", AuthorHistory(0, False))
    assert codes(first) == {"first_comment"}
    assert "repeated_text" in codes(screener.screen("Hello", AuthorHistory(2, True)))


def test_risk_grows_with_more_and_worse_flags(screener):
    mild = screener.screen("SHOUTING ABOUT THE NEWS TODAY", KNOWN).risk
    worse = screener.screen("SHOUTING ABOUT THE SHIT NEWS TODAY", KNOWN).risk
    threat = screener.screen("you should be shot, shit", KNOWN).risk
    assert 0 < mild < worse < threat < 1


def test_a_site_can_use_its_own_word_list(tmp_path):
    (tmp_path / "en.txt").write_text("# ours\nbanana\tvulgarity\n", encoding="utf-8")
    custom = Screener(WordLists.load(tmp_path))
    assert codes(custom.screen("banana!", KNOWN)) == {"vulgarity"}
    assert custom.name != Screener.from_directory().name
    with pytest.raises(FileNotFoundError):
        WordLists.load(tmp_path / "missing")


def test_tokens_fold_case_leet_and_repeats():
    assert tokens("D4MN!!! Sooo") == ["damn", "so"]


def test_submissions_are_screened_into_the_queue(services):
    services.moderation.register_article(RegisterArticle("a1", "A"),
                                         Context(Actor("admin", "admin")))
    calm = services.moderation.submit_comment(
        SubmitComment("a1", "Calm", "A measured view.", author_email="calm@example.org"),
        Context())
    rude = services.moderation.submit_comment(
        SubmitComment("a1", "Rude", "What sh1t reporting, call +964 750 123 4567"), Context())
    state = services.queries.comment(rude.id)
    assert {f["code"] for f in state["flags"]} >= {"profanity", "phone_number"}
    assert state["risk"] > services.queries.comment(calm.id)["risk"]
    history = services.queries.history(rude.id)
    assert history[1]["type"] == "comment.screened"
    assert history[1]["data"]["screener"].startswith("screener-1/wordlists-")
    by_risk, total = services.queries.queue(sort="risk")
    assert [c["comment_id"] for c in by_risk] == [rude.id, calm.id] and total == 2
    flagged, count = services.queries.queue(flag="profanity")
    assert [c["comment_id"] for c in flagged] == [rude.id] and count == 1
    page, _ = services.queries.queue(sort="risk", limit=1)
    rest, _ = services.queries.queue(sort="risk", after=page[0]["submitted_position"],
                                     after_risk=page[0]["risk"])
    assert [c["comment_id"] for c in rest] == [calm.id]
    assert state["status"] == "pending"  # screening never decides


def test_every_flag_the_screener_raises_is_a_known_queue_filter(screener):
    from service.screening import FLAG_CODES

    texts = ["What a load of shit", "I will kill you", "BUY NOW AT WWW.EXAMPLE.COM",
             "write to someone@example.org or call +964 750 123 4567", "هذا كلام فارغ",
             "you idiot", "go back to your country"]
    raised = {f.code for text in texts for f in screener.screen(text, KNOWN).flags}
    assert raised and raised <= set(FLAG_CODES), raised - set(FLAG_CODES)


def test_link_precheck_is_a_necessary_condition_of_the_extractor():
    """The cheap pre-check may skip the URL extractor only when it could find nothing:
    every domain ending it knows is a dot followed by a letter or digit, or 'localhost'."""
    from service.screening.rules import MAYBE_URL, _url_extractor

    extractor = _url_extractor()
    endings = list(extractor._load_cached_tlds()) + list(extractor._ipv4_tld)
    assert endings
    assert all(MAYBE_URL.match(t) or t == "localhost" for t in endings)
    assert not MAYBE_URL.search("No links here. None at all, 2025.")
    assert MAYBE_URL.search("buy at shop.example")


def test_phone_precheck_is_a_necessary_condition_of_the_matcher():
    """Nothing with fewer than PHONE_MIN_DIGITS digits is a phone number in our regions."""
    import itertools

    import phonenumbers

    from service.screening.rules import PHONE_MIN_DIGITS, PHONE_REGIONS

    for n in range(1, PHONE_MIN_DIGITS):
        for digits in itertools.product("0123456789", repeat=n):
            d = "".join(digits)
            for text in (f"call {d} now", f"call +{d}", f"call 0{d}",
                         f"call +49 {d}", f"call +1 {d}", f"call ({d})"):
                if sum(c.isdigit() for c in text) >= PHONE_MIN_DIGITS:
                    continue
                for region in PHONE_REGIONS:
                    assert not list(phonenumbers.PhoneNumberMatcher(text, region)), text


def test_prechecks_keep_real_findings():
    codes = {f.code for f in promotion_flags(
        "write to sales@example.com, see www.example.org or call +44 20 7946 0958")}
    assert codes == {"email_address", "link", "phone_number"}
    assert {f.code for f in promotion_flags("call ٠٧٧٠١٢٣٤٥٦٧ today")} <= {"phone_number"}
