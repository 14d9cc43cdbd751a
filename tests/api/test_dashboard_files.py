"""The dashboard's files as served: a strict Content-Security-Policy on every one, the right
types for JavaScript modules, and code that never turns text into HTML or script."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "service" / "dashboard" / "static"


def test_the_page_and_its_modules_are_served_under_a_strict_policy(client):
    assert client.get("/dashboard").status_code == 308
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and body.strip() == "" for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "style=" not in html and "<style" not in html
    for path in sorted((STATIC / "js").glob("*.js")):
        served = client.get(f"/dashboard/static/js/{path.name}")
        assert served.status_code == 200, path.name
        assert served.mimetype == "text/javascript", path.name
        assert "default-src 'self'" in served.headers["Content-Security-Policy"]
    assert client.get("/dashboard/static/dashboard.css").mimetype == "text/css"
    assert client.get("/dashboard/static/nothing.js").status_code == 404
    assert client.get("/dashboard/static/../__init__.py").status_code == 404


def test_the_scripts_build_text_nodes_never_html_and_use_only_the_public_api():
    for path in sorted((STATIC / "js").glob("*.js")):
        code = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                     "eval(", "new Function", "setAttribute(\"style\"", "localStorage"):
            assert sink not in code.replace("assigns innerHTML", ""), f"{path.name}: {sink}"
        for url in re.findall(r"[\"`](/[a-z][^\"`?$]*)", code):
            assert url.startswith("/v1/") or url == "/readyz", f"{path.name} calls {url}"
