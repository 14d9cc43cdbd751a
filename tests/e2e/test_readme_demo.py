"""The README's promise, end to end: `moderation demo` serves seeded data, and every curl
example in the README runs against it and succeeds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .test_serve import free_port, moderation_command

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def curl_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith("curl "):
                commands.append(command.strip())
    return commands


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_demo_serves_seeded_data_and_every_readme_curl_works(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "MODERATION_LOG_LEVEL": "INFO", "MODERATION_WEBHOOK_ALLOW_LOOPBACK": "1"}
    out = (tmp_path / "demo.out").open("w+")
    process = subprocess.Popen([*moderation_command(), "demo", "--port", str(port)], env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        tokens: dict[str, str] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(tokens) < 3:
            assert process.poll() is None, (tmp_path / "demo.out").read_text()
            time.sleep(0.3)
            text = (tmp_path / "demo.out").read_text()
            tokens = dict(re.findall(r"^\s+(moderator|auditor|admin)\s+(\S+)$", text, re.M))
        assert len(tokens) == 3, (tmp_path / "demo.out").read_text()
        # a newcomer reads the tokens without scrolling: the schema upgrade, the key files
        # and the seeding are one line each, not a line per migration or per token
        before_tokens = text.split("demo tokens")[0].splitlines()
        assert len(before_tokens) <= 6, before_tokens
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/dashboard/" in text  # the demo ends with the page to moderate in
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        queue = get_json(f"{base}/v1/queue?sort=oldest&limit=100", tokens["moderator"])
        assert queue["total"] >= 10
        waiting = next(item for item in queue["items"] if item["version"] == 2)
        history = get_json(f"{base}/v1/comments/{waiting['id']}/events", tokens["moderator"])
        first = history["items"][0] if isinstance(history, dict) else history[0]
        variables = {"MOD": tokens["moderator"], "AUDIT": tokens["auditor"],
                     "ADMIN": tokens["admin"], "ID": waiting["id"],
                     "AUTHOR": waiting["author_id"],
                     "POSITION": str(first["position"]),
                     "WHEN": first["recorded_at"].replace("+00:00", "Z")}
        commands = curl_commands()
        assert len(commands) >= 12
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                 + " -o /dev/null -w '%{http_code}'"],
                env={**env, **variables}, capture_output=True, text=True, timeout=30)
            code = done.stdout.strip()[-3:]
            assert code.startswith("2"), f"{command}\n-> {done.stdout} {done.stderr}"
        assert get_json(f"{base}/v1/comments/{waiting['id']}",
                        tokens["moderator"])["status"] == "rejected"
        with urllib.request.urlopen(f"{base}/dashboard/", timeout=10) as page:
            assert page.status == 200 and b'type="module"' in page.read()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
