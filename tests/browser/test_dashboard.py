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


# WCAG 2.1 AA, computed in the page: every visible text against the background it sits on
# (layers composited up the tree), 4.5:1, or 3:1 for large text; disabled controls exempt.
CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const over = (top, base) => ({r: top.r * top.a + base.r * (1 - top.a),
    g: top.g * top.a + base.g * (1 - top.a), b: top.b * top.a + base.b * (1 - top.a), a: 1});
  const lum = (c) => { const f = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    return layers.reverse().reduce((base, c) => over(c, base), {r: 255, g: 255, b: 255, a: 1}); };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join('').trim();
    if (!text || !el.getClientRects().length || el.closest('[hidden], [disabled], svg')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName}.${el.className} "${text.slice(0, 30)}"`
      + ` ${ratio.toFixed(2)}:1 (${style.color} on rgb(${bg.r|0}, ${bg.g|0}, ${bg.b|0}))`);
  }
  return bad;
}"""

# every control a screen reader reaches has a name
UNNAMED = """() => [...document.querySelectorAll('button, a[href], input, select, textarea, '
    + '[role=tab], [role=dialog]')]
  .filter((el) => el.getClientRects().length && !el.closest('[hidden]'))
  .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || (el.labels && el.labels.length) || el.textContent.trim() || el.title))
  .map((el) => el.outerHTML.slice(0, 80))"""

FOCUS = """() => { const el = document.activeElement; const s = getComputedStyle(el);
  const top = document.getElementById('top');
  const under = top.hidden || el.closest('#top') ? 0 : top.getBoundingClientRect().bottom;
  return {what: el.tagName + '#' + el.id + '.' + el.className,
          visible: ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                    || s.boxShadow !== 'none')
                   && el.getBoundingClientRect().top >= under}; }"""


def audit(tab: Page, where: str) -> None:
    assert tab.page.evaluate(CONTRAST) == [], where
    assert tab.page.evaluate(UNNAMED) == [], where


def test_approved_and_rejected_tabs_and_an_accessibility_audit_of_every_view(tab: Page, server):
    """The Approved and Rejected tabs list what the API searches (newest first), reachable
    with the arrow keys; a decision there changes an earlier one, so it needs a note. Every
    view passes the contrast and naming audit, and Tab keeps the focus visible throughout."""
    tab.offline_stream()
    tab.open()
    audit(tab, "sign-in")
    tab.sign_in()
    tab.page.wait_for_selector(".card")
    page = tab.page
    audit(tab, "pending")
    assert page.get_attribute("#queue-summary", "aria-live") == "polite"
    assert page.get_attribute("#status", "role") == "status"
    assert page.get_attribute("#cards", "role") == "list"

    # keyboard only: Tab reaches every control with a visible focus, the tabs included
    page.focus("#main")
    reached = []
    for _ in range(14):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        assert focus["visible"], focus
        reached.append(focus["what"])
    assert any(w.startswith("BUTTON#tab-pending") for w in reached), reached
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.focus("#tab-pending")  # the sticky header does not cover it
    assert page.evaluate(FOCUS)["visible"]
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#tab-reported[aria-selected=true]")
    page.wait_for_selector(".card .reports")
    audit(tab, "reported")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#tab-approved[aria-selected=true]")
    page.wait_for_selector(".card .decision")
    approved = server.call("GET", "/v1/comments?status=approved&limit=50",
                           token="moderator")[2]["items"]
    assert [c["id"] for c in cards(tab)] == [c["id"] for c in approved]  # newest first
    assert page.locator(".card button.approve").count() == 0
    assert page.is_disabled("#sort") and page.is_disabled("#filter-unclaimed")
    assert page.text_content("#queue-summary").startswith("Approved, newest first")
    assert page.text_content(".card .decision").startswith("Approved by ")
    audit(tab, "approved")
    tab.shot("queue-approved")

    # r on an approved comment: rejecting it instead needs a note, said before sending
    target = approved[0]["id"]
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert selected(tab) == target
    page.keyboard.press("r")
    page.wait_for_selector(".panel .note-why")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector(".panel-msg:text('needs a note')")
    assert server.comment(target)["status"] == "approved"
    # the page says so and puts the focus in the note
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    page.keyboard.type("Upheld on a second reading")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.card[data-id="{target}"]', state="detached")
    changed = server.comment(target)
    assert changed["status"] == "rejected" and changed["note"] == "Upheld on a second reading"

    page.focus("#tab-approved")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#tab-rejected[aria-selected=true]")
    page.wait_for_selector(f'.card[data-id="{target}"] .decision')
    assert page.locator(".card button.reject").count() == 0
    assert "Upheld on a second reading" in page.text_content(
        f'.card[data-id="{target}"] .decision')
    audit(tab, "rejected")
    page.keyboard.press("End")
    page.wait_for_selector("#tab-rejected[aria-selected=true]")
    page.keyboard.press("Home")
    page.wait_for_selector("#tab-pending[aria-selected=true]")
    page.wait_for_selector(".card .actions button.approve")

    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    audit(tab, "help")
    page.keyboard.press("Escape")
    for view, ready in (("#/audit", "table"), ("#/stats", "svg")):
        page.evaluate(f"location.hash = '{view}'")
        page.wait_for_selector(ready)
        audit(tab, view)
