"""The `moderation` command, driven the way an operator would."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from service.application.commands import Context, SubmitComment
from service.cli import main


def invoke(settings, *args):
    result = CliRunner().invoke(main, list(args), env={"DATABASE_URL": settings.database_url})
    return result


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("db", "projections", "articles"):
        assert name in result.output


def test_operator_flow_register_verify_tamper_repair(settings, services):
    assert invoke(settings, "db", "upgrade").exit_code == 0
    assert "code: " in invoke(settings, "db", "current").output
    out = invoke(settings, "articles", "register", "baghouz", "--title", "Baghouz",
                 "--published", "2019-03-05")
    assert out.exit_code == 0, out.output
    assert "registered" in out.output
    assert invoke(settings, "articles", "register", "baghouz", "--title", "x").exit_code == 1
    services.moderation.submit_comment(SubmitComment("baghouz", "Reader", "Body"), Context())
    ok = invoke(settings, "projections", "rebuild", "--verify")
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.output
    with services.engine.begin() as conn:
        conn.execute(sa.text("UPDATE articles SET pending = 99"))
    bad = invoke(settings, "projections", "rebuild", "--verify")
    assert bad.exit_code == 1
    assert "articles" in bad.output
    fixed = invoke(settings, "projections", "rebuild")
    assert fixed.exit_code == 0 and "repaired" in fixed.output
    assert invoke(settings, "projections", "rebuild", "--verify").exit_code == 0
    status = invoke(settings, "projections", "status")
    assert status.output.count("up to date") == status.output.count("\n") - 1


def test_token_and_article_names_with_a_line_break_are_refused(settings, services):
    assert invoke(settings, "db", "upgrade").exit_code == 0
    for args in (("tokens", "create", "--name", "nl\n", "--role", "moderator"),
                 ("articles", "register", "nl-article\n", "--title", "T"),
                 ("articles", "register", "ok-article", "--title", "two\nlines")):
        refused = invoke(settings, *args)
        assert refused.exit_code != 0, refused.output
    assert services.queries.head() == 0
    listed = invoke(settings, "tokens", "list")
    assert "nl" not in listed.output


def test_authors_lookup_export_erase_from_a_shell(settings, services):
    import json as _json

    from service.application.commands import RegisterArticle

    services.moderation.register_article(RegisterArticle("cli-a", "A"), Context())
    rec = services.moderation.submit_comment(
        SubmitComment("cli-a", "Shell Person", "Typed in a shell", "shell@example.org"),
        Context())
    found = invoke(settings, "authors", "lookup", "shell@example.org")
    assert found.exit_code == 0, found.output
    author_id = found.output.strip()
    assert author_id == services.queries.comment(rec.id)["author_id"]
    assert invoke(settings, "authors", "lookup", "nobody@example.org").exit_code == 1
    exported = invoke(settings, "authors", "export", author_id)
    assert exported.exit_code == 0, exported.output
    document = _json.loads(exported.output)
    assert document["comments"][0]["body"] == "Typed in a shell"
    assert invoke(settings, "authors", "erase", author_id).exit_code == 2  # --note required
    erased = invoke(settings, "authors", "erase", author_id, "--note", "ticket 9")
    assert erased.exit_code == 0, erased.output
    assert "erased: 1 comments" in erased.output
    again = invoke(settings, "authors", "erase", author_id, "--note", "ticket 9")
    assert "already erased" in again.output
    assert services.queries.comment(rec.id)["body"] is None
    feed = services.queries.feed(types=["author.erased"], personal=True)
    assert feed[0]["metadata"]["actor"] == {"id": "cli", "role": "admin"}


def test_db_downgrade_takes_the_revision_as_upgrade_does(settings):
    assert invoke(settings, "db", "upgrade", "--revision", "0001").exit_code == 0
    moved = invoke(settings, "db", "downgrade", "--revision", "base")
    assert moved.exit_code == 0, moved.output
    assert invoke(settings, "db", "downgrade").exit_code != 0
    assert invoke(settings, "db", "upgrade").exit_code == 0


def test_privacy_sweep_from_a_shell(settings, services):
    out = invoke(settings, "privacy", "sweep")
    assert out.exit_code == 0, out.output
    assert "nothing to sweep" in out.output and "30 days" in out.output
