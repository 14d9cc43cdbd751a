"""The moderator's dashboard: static files (HTML, CSS, JavaScript modules) at /dashboard/.

The page is a client of the public API like any newsroom's own dashboard: it holds the
caller's token in sessionStorage and sends it as a Bearer header, so there is no cookie and
nothing to forge across sites. Every response here carries a strict Content-Security-Policy
(`default-src 'self'`, no inline script or style), so even a comment body that slipped past
the page's text-only rendering could not run.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, redirect, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                static_folder=str(STATIC), static_url_path="/static")


@blp.get("")
def bare() -> Response:
    return redirect("/dashboard/", code=308)


@blp.get("/")
def index() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if response.mimetype == "text/javascript" or response.mimetype.endswith("/javascript"):
        response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    return response
