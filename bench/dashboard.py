"""The dashboard at a million comments: how soon the first queue page is interactive.

    python -m bench.dashboard [--db sqlite|postgres|both] [--comments 1000000] [--runs 5]

Bulk-loads the comments once (bench/bulk.py, read models included; the database is kept in
--data, or BENCH_POSTGRES_URL's, and reused while it holds the same number), starts
`moderation serve` on it (its start-up time is printed: a bulk-loaded database must not be
replayed), and opens /dashboard/ in Debian's Chromium through Playwright. Two figures per
run, each in a fresh browser context:

- sign-in: from submitting the token to the first queue page's cards rendered with the
  keyboard focus on the first card (the page's `signin-submitted` and `queue-interactive`
  performance marks, and `document.activeElement` being that card);
- reload: a signed-in tab reloaded, from navigation start to the same moment.

It prints medians with min and max, and the API calls the page made before it was
interactive with their median durations (Resource Timing), so a slow figure names its call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from service import migrate
from service.bootstrap import build
from service.config import Settings

from .bulk import bulk_load
from .servers import ROOT, running

PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
INTERACTIVE = ("() => performance.getEntriesByName('queue-interactive').length > 0"
               " && document.activeElement && document.activeElement.matches('.card')")


def prepared(db: str, comments: int, data: Path) -> str:
    """A database holding `comments` bulk-loaded comments (loaded now unless it already does)."""
    if db == "sqlite":
        data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{data / f'dashboard-{comments}.db'}"
    else:
        url = PG_URL
    marker = data / f"dashboard-{db}-{comments}.json"
    settings = Settings(database_url=url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            head = conn.execute(sa.text(
                "SELECT last_position FROM event_store_head")).scalar_one()
    except sa.exc.DBAPIError:
        head = None
    finally:
        engine.dispose()
    # each run adds a token.created event (its moderator token), so the head only grows
    if marker.exists() and head is not None and head >= json.loads(marker.read_text())["head"]:
        print(f"{db}: reusing {comments:,} comments ({head:,} events) at {url}", flush=True)
        return url
    if db == "sqlite":
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    migrate.upgrade(settings)
    services = build(settings)
    started = time.perf_counter()
    try:
        head = bulk_load(services.engine, comments, runner=services.runner, progress=lambda n: (
            print(f"\r{db}: loading {n:,} of {comments:,}", end="", file=sys.stderr,
                  flush=True) if n % 50000 == 0 else None))
    finally:
        services.close()
    seconds = time.perf_counter() - started
    print(f"\r{db}: bulk load of {comments:,} comments, {head:,} events, read models "
          f"included: {seconds:,.0f} s ({head / seconds:,.0f} events/s)", flush=True)
    data.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"head": head, "comments": comments}))
    return url


def token(url: str) -> str:
    done = subprocess.run([sys.executable, "-m", "service.cli", "tokens", "create", "--name",
                           f"bench-dashboard-{time.time_ns()}", "--role", "moderator"],
                          env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                               "MODERATION_LOG_LEVEL": "WARNING"},
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout.strip()


def api_calls(page) -> list[tuple[str, float]]:  # noqa: ANN001
    """The API calls made before the page was interactive: (path, duration ms)."""
    return [(e["name"], e["duration"]) for e in page.evaluate(
        "(() => { const end = performance.getEntriesByName('queue-interactive')[0].startTime;"
        " return performance.getEntriesByType('resource')"
        ".filter((e) => e.name.includes('/v1/') || e.name.includes('/readyz'))"
        ".filter((e) => e.startTime < end)"
        ".map((e) => ({name: new URL(e.name).pathname + new URL(e.name).search,"
        " duration: e.duration})); })()")]


def measure(db: str, url: str, runs: int, workers: int, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    secret = token(url)
    started = time.perf_counter()
    with running("service", url, workers, start_timeout=3600) as base:
        print(f"{db}: moderation serve ready in {time.perf_counter() - started:.1f} s",
              flush=True)
        signin, reload, calls = [], [], {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            try:
                for run in range(runs + 1):  # the first run warms the server's workers
                    context = browser.new_context(viewport={"width": 1200, "height": 900})
                    page = context.new_page()
                    page.set_default_timeout(60000)
                    page.goto(base + "/dashboard/")
                    page.wait_for_selector("#token")
                    page.fill("#token", secret)
                    page.keyboard.press("Enter")
                    page.wait_for_function(INTERACTIVE)
                    took = page.evaluate(
                        "performance.getEntriesByName('queue-interactive')[0].startTime"
                        " - performance.getEntriesByName('signin-submitted')[0].startTime")
                    page.keyboard.press("j")  # the keys work: the second card takes focus
                    page.wait_for_function(
                        "document.activeElement === document.querySelectorAll('.card')[1]")
                    page.reload()
                    page.wait_for_function(INTERACTIVE)
                    again = page.evaluate(
                        "performance.getEntriesByName('queue-interactive')[0].startTime")
                    if run:
                        signin.append(took)
                        reload.append(again)
                        for path, ms in api_calls(page):
                            calls.setdefault(path.split("?")[0] + (
                                "?" + path.split("?")[1] if "?" in path else ""), []).append(ms)
                    context.close()
            finally:
                browser.close()
    for name, values in (("sign-in to first page interactive", signin),
                         ("reload to first page interactive", reload)):
        print(f"  {db:8} {name:40} {statistics.median(values):8.0f} ms "
              f"[{min(values):.0f} .. {max(values):.0f}] over {len(values)} runs", flush=True)
    for path, values in calls.items():
        print(f"  {db:8}   {path[:70]:70} {statistics.median(values):6.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path("/tmp/moderation-bench-dashboard"),
                        help="where the SQLite database and the load markers are kept")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("Chromium is not installed (apt-get install -y chromium)")
    for db in (("sqlite", "postgres") if args.db == "both" else (args.db,)):
        url = prepared(db, args.comments, args.data)
        measure(db, url, args.runs, args.workers, chromium)


if __name__ == "__main__":
    main()
