"""The README cannot drift: its commands, options and variables are checked here.

The curl examples are run against a real server by tests/e2e (see test_readme_curl.py
there, when present); this module checks everything that needs no server.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from service.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def code_blocks(text: str, lang: str = "sh") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def moderation_commands() -> list[list[str]]:
    found = []
    for block in code_blocks(README):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|;", line):
                words = shlex.split(part.strip()) if part.strip() else []
                if words and words[0].endswith("moderation"):
                    found.append(words[1:])
    for cell in re.findall(r"`moderation ([^`]+)`", README):
        for alt in cell.split(" / "):
            found.append(shlex.split(alt))
    return found


def test_quick_start_is_exactly_two_commands():
    blocks = code_blocks(section("Quick start"))
    assert len(blocks) == 2
    assert all(len(b.strip().splitlines()) == 1 for b in blocks)
    assert "moderation demo" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command():
    test_command = code_blocks(section("Quick start"))[1].strip().split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command.replace(".venv/bin/", "") in ci


def test_every_moderation_command_in_the_readme_exists_with_its_options():
    commands = moderation_commands()
    assert len(commands) > 10
    for args in commands:
        words = [a for a in args if not a.isupper() and not a.startswith(("[", "$"))]
        path = [w for w in words if not w.startswith("-")]
        # keep only the command path (subcommands), then the options the README shows
        result = CliRunner().invoke(main, ["--help"])
        for cut in range(len(path), 0, -1):
            result = CliRunner().invoke(main, [*path[:cut], "--help"])
            if result.exit_code == 0:
                break
        assert result.exit_code == 0, args
        for option in (w.strip("[]") for w in args if w.lstrip("[").startswith("--")):
            assert option in result.output, f"moderation {' '.join(args)}: no {option}"


def test_every_setting_is_documented_and_every_documented_setting_exists():
    config = (ROOT / "service" / "config.py").read_text()
    prefix = re.search(r'p = "(MODERATION_WEBHOOK_)"', config).group(1)
    in_code = set(re.findall(r'"((?:MODERATION_|DATABASE_)[A-Z_]*[A-Z])"', config))
    in_code |= {prefix + name for name in re.findall(r'p \+ "([A-Z_]+)"', config)}
    documented = section("Configuration") + (ROOT / "docs" / "webhooks.md").read_text()
    in_docs = set(re.findall(r"`((?:MODERATION_|DATABASE_)[A-Z_]*[A-Z])`", documented))
    assert in_code == in_docs
