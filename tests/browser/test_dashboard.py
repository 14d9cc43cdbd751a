"""The moderator's dashboard in a real browser: a few long tests, each walking through what a
moderator does, so the whole run stays short."""

from __future__ import annotations

import unicodedata

import pytest

from .conftest import SEED, Page

pytestmark = pytest.mark.slow

XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> <b>bold?</b>'
BIDI = "Price list \u202egnp.exe\u202c and an unclosed \u202eoverride here"
LANG_NAME = {"en": "English", "ar": "Arabic", "ckb": "Sorani", "kmr": "Kurmanji"}


def cards(tab: Page) -> list[dict]:
    return tab.page.evaluate("""() => [...document.querySelectorAll('.card')].map(card => {
        const body = card.querySelector('.body');
        return {id: card.dataset.id, text: body.textContent, lang: body.getAttribute('lang'),
                dir: body.getAttribute('dir'), direction: getComputedStyle(body).direction,
                bidi: getComputedStyle(body).unicodeBidi, width: card.offsetWidth,
                scroll: card.scrollWidth, images: card.querySelectorAll('img, script, b').length};
    })""")


def selected(tab: Page) -> str:
    return tab.page.evaluate("""() => {
        const card = document.querySelector('.card.selected');
        if (!card) return null;
        if (document.activeElement !== card) return 'focus-elsewhere:' + card.dataset.id;
        return card.dataset.id;
    }""")


def test_sign_in_then_the_queue_shows_every_language_as_written_and_no_markup_runs(
        tab: Page, server):
    xss_id = server.submit(XSS, name="<i>Mallory</i>")
    bidi_id = server.submit(BIDI, name="Rêber \u200fRTL")  # names refuse bidi controls
    pending = server.queue()

    response = tab.open()
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
    tab.shot("signin")
    tab.page.fill("#token", "mod_not-a-real-token")
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_selector("#signin-error:text('unknown')")
    tab.sign_in()
    tab.page.wait_for_selector(".card")
    assert tab.page.evaluate("sessionStorage.getItem('moderation.token')") == \
        server.tokens["moderator"]
    assert server.tokens["moderator"] not in tab.page.url

    shown = {card["id"]: card for card in cards(tab)}
    assert set(shown) == {item["id"] for item in pending}
    assert tab.page.text_content("#queue-summary").startswith(f"{len(pending)} pending")

    # every seeded comment still waiting shows exactly its text, in its language and direction
    by_text = {unicodedata.normalize("NFC", c["body"]): c["language"] for c in SEED["comments"]}
    languages = set()
    for card in shown.values():
        language = by_text.get(card["text"])
        if language is None:
            continue
        languages.add(language)
        assert card["lang"] == language, card
        assert card["dir"] == "auto"
        assert card["direction"] == ("rtl" if language in ("ar", "ckb") else "ltr"), card
    assert languages == {"en", "ar", "ckb", "kmr"}

    # markup in a comment is text: nothing runs, no element is made, the text is exact
    xss = shown[xss_id]
    assert xss["text"] == XSS and xss["images"] == 0
    assert tab.page.evaluate("document.querySelectorAll('#cards img, #cards script').length") == 0
    author = tab.page.text_content(f'.card[data-id="{xss_id}"] .author')
    assert author == "<i>Mallory</i>"
    # each card says who this author has been: counts, rejections, warnings, sanction
    standing = tab.page.text_content(f'.card[data-id="{xss_id}"] .standing')
    assert standing is not None and standing.startswith("1 comment · 0 rejected"), standing

    # a bidi override stays inside its comment: isolated, and the card keeps its width
    bidi = shown[bidi_id]
    assert bidi["text"] == BIDI and bidi["bidi"] in ("isolate", "plaintext")
    widths = {card["width"] for card in shown.values()}
    assert len(widths) == 1 and all(c["scroll"] <= c["width"] for c in shown.values())
    order = tab.page.evaluate(f"""() => [...document.querySelectorAll(
        '.card[data-id="{bidi_id}"] .actions button')].map(b => b.getBoundingClientRect().x)""")
    assert order == sorted(order)  # Approve, Reject, Note still left to right
    for name, comment_id in (("xss", xss_id), ("bidi", bidi_id)):
        tab.page.locator(f'.card[data-id="{comment_id}"]').screenshot(
            path=str(tab.shot("queue").parent / f"card-{name}.png"))

    # filter by language (client side) and by flag (the API)
    tab.page.select_option("#filter-lang", "ckb")
    langs = {card["lang"] for card in cards(tab)}
    assert langs == {"ckb"}
    tab.page.select_option("#filter-lang", "")
    tab.page.fill("#filter-flag", "link")
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_function("() => document.querySelector('#queue-summary').textContent"
                               f".indexOf('{len(pending)} pending') !== 0")
    flagged = {item["id"] for item in pending if any(f["code"] == "link" for f in item["flags"])}
    assert {card["id"] for card in cards(tab)} == flagged
    tab.page.fill("#filter-flag", "")
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_function(
        f"() => document.querySelectorAll('.card').length === {len(pending)}")
    tab.page.locator("#cards").focus()
    tab.shot("queue")

    # sign out: the token is gone from the tab
    tab.page.click("#signout")
    tab.page.wait_for_selector("#signin:not([hidden])")
    assert tab.page.evaluate("sessionStorage.getItem('moderation.token')") is None
    assert tab.page.locator(".card").count() == 0


def test_keyboard_only_moderation_with_a_conflict_between_two_moderators(
        tab: Page, second_tab: Page, server):
    tab.offline_stream()
    tab.open()
    tab.sign_in()
    tab.page.wait_for_selector(".card")
    ids = [card["id"] for card in cards(tab)]
    assert len(ids) >= 5
    page = tab.page

    # j / k move the selection and the focus
    assert selected(tab) == ids[0]  # the first card has the focus from the start
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert selected(tab) == ids[2]
    page.keyboard.press("k")
    assert selected(tab) == ids[1]
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

    # a approves the selected comment
    page.keyboard.press("a")
    page.wait_for_selector(f'.card[data-id="{ids[1]}"]', state="detached")
    approved = server.comment(ids[1])
    assert approved["status"] == "approved" and approved["decided_by"] == "browser-moderator"
    page.wait_for_selector("#status:text('Approved')")
    assert selected(tab) == ids[2]

    # r, a reason key, a note, Enter rejects
    page.keyboard.press("r")
    page.wait_for_selector(".panel .reasons")
    tab.shot("reject")
    page.wait_for_timeout(300)  # the picker claims the comment for this moderator
    claims = {item["id"]: item["claim"] for item in server.queue()}
    assert claims[ids[2]]["moderator_id"] == "browser-moderator"
    page.keyboard.press("2")
    page.keyboard.press("n")
    page.keyboard.type("Threat against a named person")
    page.keyboard.press("Escape")  # leaves the note, keeps the picker
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.card[data-id="{ids[2]}"]', state="detached")
    rejected = server.comment(ids[2])
    assert rejected["status"] == "rejected" and rejected["reasons"] == ["threats"]
    assert rejected["note"] == "Threat against a named person"

    # r then Esc sends nothing; Enter with no reason says what is missing
    page.keyboard.press("r")
    page.keyboard.press("Enter")
    page.wait_for_selector(".panel-msg:text('Pick at least one reason')")
    page.keyboard.press("Escape")
    assert page.locator(".panel").count() == 0
    assert server.comment(ids[3])["status"] == "pending"

    # a second moderator decides ids[3] first; ours is refused with who, what and when
    second_tab.open()
    second_tab.sign_in("second")
    second_tab.page.wait_for_selector(f'.card[data-id="{ids[3]}"]')
    second_tab.page.click(f'.card[data-id="{ids[3]}"] button.approve')
    second_tab.page.wait_for_selector(f'.card[data-id="{ids[3]}"]', state="detached")
    assert selected(tab) == ids[3]
    page.keyboard.press("r")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    message = page.locator(f'.card[data-id="{ids[3]}"] .gone-note')
    message.wait_for()
    assert "browser-second approved this" in message.text_content()
    assert "not applied" in message.text_content()
    tab.shot("conflict")
    assert server.comment(ids[3])["decided_by"] == "browser-second"
    page.keyboard.press("j")  # the card decided elsewhere leaves as the moderator moves on
    page.wait_for_selector(f'.card[data-id="{ids[3]}"]', state="detached")
    assert selected(tab) == ids[4]

    # ? shows the keys, Esc closes; h opens the history, Esc comes back
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    tab.shot("help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")
    page.keyboard.press("h")
    page.wait_for_selector("#timeline li.current")
    assert page.url.endswith(f"#/comment/{ids[4]}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#travel-where:text('Event 1 of')")
    tab.shot("history")
    page.keyboard.press("Escape")
    page.wait_for_selector(".card.selected")


def test_new_comments_arrive_live_and_cards_decided_elsewhere_leave(tab: Page, server):
    requests: list[dict] = []
    tab.page.on("request", lambda r: requests.append(r.headers)
                if "/v1/events/stream" in r.url else None)
    tab.open()
    tab.sign_in()
    tab.page.wait_for_selector("#live[data-state='on']")
    before = [card["id"] for card in cards(tab)]

    # comments submitted over several seconds, across the server ending streams (every 3 s)
    # and the page reconnecting from its last position: every one is announced, once
    arrived = []
    for n in range(6):
        arrived.append(server.submit(f"Ez ji Qamişlo me û ev nûçe {n} girîng e.",
                                     name=f"Rojîn {n}"))
        tab.page.wait_for_timeout(900)
    banner = tab.page.locator("#new-banner")
    banner.wait_for()
    tab.page.wait_for_function("() => document.querySelector('#new-banner').textContent"
                               ".startsWith('6 new comments')")
    resumed = [h.get("last-event-id") for h in requests[1:]]
    assert len(requests) >= 2 and all(resumed) and resumed == sorted(resumed, key=int)
    tab.shot("queue-live")
    banner.click()
    tab.page.wait_for_selector(f'.card[data-id="{arrived[-1]}"]')
    shown = {card["id"]: card for card in cards(tab)}
    assert all(shown[i]["lang"] == "kmr" for i in arrived)
    assert [card["id"] for card in cards(tab)] == before + arrived  # oldest first
    assert banner.is_hidden()

    # another moderator decides a card this page shows: it is marked, then leaves
    target = before[2]
    status, _, answer = server.call("POST", f"/v1/comments/{target}/reject",
                                    {"reasons": ["off_topic"]}, token="second",
                                    headers={"If-Match": f'"{server.comment(target)["version"]}"'})
    assert status == 200, answer
    note = tab.page.locator(f'.card[data-id="{target}"] .gone-note')
    note.wait_for()
    assert "browser-second rejected this" in note.text_content()
    tab.page.wait_for_selector(f'.card[data-id="{target}"]', state="detached", timeout=10000)
    assert tab.page.text_content("#queue-summary").startswith(f"{len(server.queue())} pending")

    # an author erased by an admin: the page drops their name and text at once
    erased = arrived[0]
    author = server.comment(erased)["author_id"]
    status, _, answer = server.call("POST", f"/v1/authors/{author}/erasure",
                                    {"note": "reader's request"}, token="admin")
    assert status == 200, answer
    tab.page.wait_for_selector(f'.card[data-id="{erased}"] .erased')
    assert "Rojîn 0" not in tab.page.text_content(f'.card[data-id="{erased}"]')


def test_claims_appear_live_on_another_moderators_dashboard_and_leave_on_release_or_expiry(
        tab: Page, second_tab: Page, server):
    """Two moderators, two browser contexts: opening the reason picker in one shows the
    claim on the other's card at once (and in its live region, for the selected card);
    cancelling releases it, and a claim left alone runs out, both without a reload."""
    tab.open()
    tab.sign_in()
    tab.page.wait_for_selector("#live[data-state='on']")
    ids = [card["id"] for card in cards(tab)]
    watched = ids[0]  # the first card: selected in the watching tab
    claim_line = tab.page.locator(f'.card[data-id="{watched}"] .claim')
    assert claim_line.count() == 0

    second_tab.open()
    second_tab.sign_in("second")
    second_tab.page.wait_for_selector(f'.card[data-id="{watched}"].selected')
    second_tab.page.keyboard.press("r")  # the picker claims the comment
    second_tab.page.wait_for_selector(".panel .reasons")
    claim_line.wait_for()
    assert "Claimed by browser-second until" in claim_line.text_content()
    tab.page.wait_for_selector("#status:text('browser-second is handling this comment')")
    assert selected(tab) == watched  # nothing moved under the moderator's hands
    tab.shot("queue-claimed")
    # the moderator who claimed it sees no claim of its own
    assert second_tab.page.locator(f'.card[data-id="{watched}"] .claim').count() == 0

    second_tab.page.keyboard.press("Escape")  # cancel: the claim is released
    claim_line.wait_for(state="detached")
    tab.page.wait_for_selector("#status:text('browser-second released this comment')")
    claims = {item["id"]: item["claim"] for item in server.queue()}
    assert claims[watched] is None

    # a claim nobody releases runs out (MODERATION_CLAIM_SECONDS is 6 here)
    other = ids[1]
    status, _, answer = server.call("POST", f"/v1/comments/{other}/claim", token="second")
    assert status == 200, answer
    other_line = tab.page.locator(f'.card[data-id="{other}"] .claim')
    other_line.wait_for()
    other_line.wait_for(state="detached", timeout=15000)
    tab.check_clean()
    second_tab.check_clean()


def test_audit_filters_and_csv_statistics_charts_and_time_travel(tab: Page, server, tmp_path):
    # a decision whose note a spreadsheet would run as a formula
    target = server.submit("Spam again", name="Formula Fan")
    status, _, answer = server.call(
        "POST", f"/v1/comments/{target}/reject", {"reasons": ["other"], "note": "=1+2 spam"},
        token="moderator", headers={"If-Match": f'"{server.comment(target)["version"]}"'})
    assert status == 200, answer

    tab.open()
    tab.sign_in("auditor")
    assert tab.page.url.endswith("#/audit")
    tab.page.wait_for_selector("#audit-table tbody tr")
    _, _, everything = server.call("GET", "/v1/audit/decisions?limit=100", token="auditor")
    assert tab.page.locator("#audit-table tbody tr").count() == len(everything["items"])
    tab.shot("audit")

    tab.page.fill("#f-moderator", "demo-moderator-amira")
    tab.page.select_option("#f-reason", "profanity")
    tab.page.keyboard.press("Enter")
    _, _, filtered = server.call(
        "GET", "/v1/audit/decisions?moderator=demo-moderator-amira&reason=profanity",
        token="auditor")
    expected = [str(row["position"]) for row in filtered["items"]]
    assert expected
    tab.page.wait_for_function(
        f"() => document.querySelectorAll('#audit-table tbody tr').length === {len(expected)}")
    shown = tab.page.eval_on_selector_all("#audit-table tbody tr", "rows => rows.map("
                                          "r => r.dataset.position)")
    assert shown == expected

    tab.page.fill("#f-moderator", "")
    tab.page.select_option("#f-reason", "other")
    tab.page.keyboard.press("Enter")
    with tab.page.expect_download() as download:
        tab.page.click("#csv")
    path = tmp_path / "decisions.csv"
    download.value.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("position,decided_at,moderator_id,decision")
    _, _, others = server.call("GET", "/v1/audit/decisions?reason=other", token="auditor")
    assert len(lines) == 1 + len(others["items"])
    assert any("'=1+2 spam" in line and target in line for line in lines)

    # statistics: the figures are the API's, every chart is drawn
    tab.page.keyboard.press("g")
    tab.page.keyboard.press("s")
    tab.page.wait_for_selector(".chart svg rect.bar")
    _, _, stats = server.call("GET", "/v1/stats", token="auditor")
    assert tab.page.text_content("[data-figure='depth'] b") == str(stats["queue"]["depth"])
    assert tab.page.text_content("[data-figure='decisions'] b") == \
        str(stats["decisions"]["total"])
    assert tab.page.locator(".chart svg").count() == 4
    per_reason = tab.page.locator("[data-chart='chart-rejections-per-reason'] rect.bar").count()
    assert per_reason == len(stats["decisions_per_reason"])
    tab.shot("stats")

    # time travel through a comment whose decision was reversed
    tab.page.click("#signout")
    tab.sign_in()
    _, _, reversals = server.call("GET", "/v1/audit/decisions?limit=100", token="auditor")
    reversed_id = next(r["comment_id"] for r in reversals["items"] if r["reversal"])
    history = server.call("GET", f"/v1/comments/{reversed_id}/events", token="moderator")[2]
    tab.page.goto(f"{server.base}/dashboard/#/comment/{reversed_id}")
    tab.page.wait_for_selector("#timeline li.current")
    assert tab.page.locator("#timeline li").count() == len(history["items"])
    final = server.comment(reversed_id)["status"]
    assert tab.page.text_content("#as-of .status") == final
    tab.page.focus("#position")
    for _ in history["items"]:
        tab.page.keyboard.press("ArrowLeft")
    tab.page.wait_for_selector("#travel-where:text('Event 1 of')")
    assert tab.page.text_content("#as-of .status") == "pending"
    tab.page.locator("#position").fill(str(len(history["items"]) - 2))  # drag the slider
    tab.page.wait_for_selector(f"#travel-where:text('Event {len(history['items']) - 1} of')")
    earlier = history["items"][-2]["type"].split(".")[1]
    assert tab.page.text_content("#as-of .status") == earlier
    tab.shot("history-travel")

    # changing the decision: the page asks for the note before sending anything
    tab.page.click("#change-form button[type=submit]")
    tab.page.wait_for_selector("#change-msg:text('Write a note first')")
    assert len(server.call("GET", f"/v1/comments/{reversed_id}/events",
                           token="moderator")[2]["items"]) == len(history["items"])
    tab.page.fill("#change-form textarea", "Second look: it argues, it does not insult")
    tab.page.click("#change-form button[type=submit]")
    tab.page.wait_for_function(f"() => document.querySelectorAll('#timeline li').length"
                               f" === {len(history['items']) + 1}")
    changed = server.comment(reversed_id)
    assert changed["status"] != final and changed["decided_by"] == "browser-moderator"
    assert changed["note"] == "Second look: it argues, it does not insult"


def test_reported_tab_dismisses_and_rejects_with_a_note_and_names_who_acted_first(
        tab: Page, second_tab: Page, server):
    # three published comments, each reported once by a reader (one address: one report each)
    _, _, catalogue = server.call("GET", "/v1/guidelines")
    first, second = catalogue["guidelines"][0], catalogue["guidelines"][1]
    ids = []
    for n, reason in enumerate((first, second, first)):
        comment_id = server.submit(f"Reported comment number {n}", name=f"Reported Author {n}")
        version = server.comment(comment_id)["version"]
        status, _, body = server.call("POST", f"/v1/comments/{comment_id}/approve", {},
                                      token="moderator", headers={"If-Match": f'"{version}"'})
        assert status == 200, body
        status, _, body = server.call("POST", f"/v1/comments/{comment_id}/reports",
                                      {"reason": reason["code"], "note": None})
        assert status == 202 and body["counted"], body
        ids.append(comment_id)
    dismissed, rejected, raced = ids
    _, _, page_ = server.call("GET", "/v1/queue?state=reported&limit=100", token="moderator")
    total = page_["total"]
    assert {item["id"] for item in page_["items"]} >= set(ids)

    tab.offline_stream()  # the race below must reach the API
    tab.open()
    tab.sign_in()
    page = tab.page
    page.wait_for_selector(f'#tab-reported .tab-count:text("{total}")')
    page.focus("#tab-pending")  # the tabs are reachable by keyboard: arrows move between them
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-reported", "aria-selected") == "true"
    assert page.get_attribute("#tab-pending", "aria-selected") == "false"
    card = page.locator(f'.card[data-id="{dismissed}"]')
    card.wait_for()
    chip = card.locator(f'.report-chip[data-reason="{first["code"]}"]')
    assert chip.locator(".chip-guideline").text_content() == first["title"]
    assert chip.locator(".chip-count").text_content() == "1"
    assert "1 open report" in card.locator(".reports-total").text_content()
    assert page.locator("#queue-summary").text_content().startswith(f"{total} reported")
    tab.shot("reported")

    # d dismisses: the comment stays published and leaves the tab
    card.click(position={"x": 5, "y": 5})
    page.keyboard.press("d")
    card.wait_for(state="detached")
    assert server.comment(dismissed)["status"] == "approved"
    page.wait_for_selector(f'#tab-reported .tab-count:text("{total - 1}")')

    # r + a reason: the page asks for the note before sending, then rejects
    other = page.locator(f'.card[data-id="{rejected}"]')
    other.click(position={"x": 5, "y": 5})
    page.keyboard.press("r")
    page.wait_for_selector(".panel .note-why")
    assert page.locator(".panel .note > span").text_content() == "Note (required)"
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector(".panel-msg:text('needs a note')")
    assert server.comment(rejected)["status"] == "approved"
    page.keyboard.type("Reported twice; breaks the guideline")
    page.keyboard.press("Enter")
    other.wait_for(state="detached")
    now = server.comment(rejected)
    assert now["status"] == "rejected" and now["reasons"] == [second["code"]]
    assert now["note"] == "Reported twice; breaks the guideline"

    # another moderator dismisses first: ours is refused, naming who and what
    version = server.comment(raced)["version"]
    status, _, body = server.call("POST", f"/v1/comments/{raced}/reports/dismiss", {},
                                  token="second", headers={"If-Match": f'"{version}"'})
    assert status == 200, body
    late = page.locator(f'.card[data-id="{raced}"]')
    late.click(position={"x": 5, "y": 5})
    page.keyboard.press("d")
    message = late.locator(".gone-note")
    message.wait_for()
    assert "browser-second dismissed the reports" in message.text_content()
    assert "not applied" in message.text_content()
    tab.shot("reported-conflict")

    # with the live stream, a new report raises the Reported tab's count without a reload
    second_tab.open()
    second_tab.sign_in("second")
    live = second_tab.page
    _, _, now_page = server.call("GET", "/v1/queue?state=reported&limit=1", token="moderator")
    live.wait_for_selector(f'#tab-reported .tab-count:text("{now_page["total"]}")')
    live.wait_for_selector("#live[data-state='on']")
    fresh = server.submit("Reported while the page is open", name="Reported Author 3")
    version = server.comment(fresh)["version"]
    assert server.call("POST", f"/v1/comments/{fresh}/approve", {}, token="moderator",
                       headers={"If-Match": f'"{version}"'})[0] == 200
    assert server.call("POST", f"/v1/comments/{fresh}/reports",
                       {"reason": first["code"], "note": None})[0] == 202
    live.wait_for_selector(f'#tab-reported .tab-count:text("{now_page["total"] + 1}")')
