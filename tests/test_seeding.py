"""The demo data goes in through the application, once, with real histories."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli import main
from service.screening.backtest import backtest
from service.screening.screener import Screener
from service.seeding import DEFAULT_SEED, load_seed, seed

DATA = load_seed(DEFAULT_SEED)


def test_the_demo_data_is_rich_enough_to_learn_from():
    comments = DATA["comments"]
    assert len(comments) >= 60
    assert {c["language"] for c in comments} == {"en", "ar", "ckb", "kmr"}
    reasons = {r for c in comments for d in (c["decision"], c.get("later")) if d
               for r in d.get("reasons", [])}
    assert {"profanity", "threats", "personal_attack", "vulgarity", "abuse_sexism",
            "abuse_racism", "abuse_homophobia", "abuse_xenophobia", "commercial_promotion",
            "personal_promotion", "off_topic"} <= reasons
    assert sum(c["decision"] is None for c in comments) >= 10
    assert sum("parent" in c for c in comments) >= 5


def test_seeding_twice_adds_nothing_and_histories_are_real(services):
    first = seed(services, DATA)
    assert first.article_created and first.comments_created == len(DATA["comments"])
    head = services.queries.head()
    again = seed(services, DATA)
    assert (again.comments_created, again.decisions_made) == (0, 0)
    assert again.comments_present == len(DATA["comments"])
    assert services.queries.head() == head
    pending = sum(c["decision"] is None for c in DATA["comments"])
    assert services.queries.queue()[1] == pending
    reversed_one = next(c for c in DATA["comments"] if c.get("later"))
    decided = services.queries.feed(types=["comment.approved", "comment.rejected"],
                                    limit=1000)
    assert any(e["data"].get("note") == reversed_one["later"]["note"] for e in decided)
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_backtest_counts_what_each_list_would_flag(services):
    seed(services, DATA)
    result = backtest(services.queries.screening_corpus(), Screener.from_directory())
    rejected = result.by_status["rejected"]
    assert rejected.total == sum(
        (c.get("later") or c["decision"] or {}).get("action") == "reject"
        for c in DATA["comments"])
    assert rejected.flagged_candidate == rejected.flagged_now > 0
    assert result.by_reason["threats"].flagged_candidate == result.by_reason["threats"].total
    lines = result.table()
    assert lines[0].startswith("backtest of screener-1/")


def test_seed_and_backtest_commands(settings, services, tmp_path):
    env = {"DATABASE_URL": settings.database_url}
    out = CliRunner().invoke(main, ["seed"], env=env)
    assert out.exit_code == 0, out.output
    assert "72 comments added" in out.output or "comments added" in out.output
    (tmp_path / "en.txt").write_text("reporting\tprofanity\n", encoding="utf-8")
    bt = CliRunner().invoke(main, ["screening", "backtest", "--wordlists", str(tmp_path)],
                            env=env)
    assert bt.exit_code == 0, bt.output
    assert "approved (false alarms)" in bt.output
