"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

Each service's command must be a real `moderation` command with real options, the
database must be healthy before migrations, and the API must wait for the migration.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from service.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def cli_accepts(args: list[str]) -> None:
    """The command exists and every option parses (checked with --help appended)."""
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, f"moderation {' '.join(args)}: {result.output}"
    for option in (a for a in args if a.startswith("--")):
        assert option in result.output, f"{option} is not an option of {args}"


def test_services_and_their_order():
    services = COMPOSE["services"]
    assert set(services) == {"db", "redis", "migrate", "api", "dispatcher"}
    assert services["db"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pg_isready" in services["db"]["healthcheck"]["test"][1]
    assert any("/var/lib/postgresql/data" in v for v in services["db"]["volumes"])
    assert "pgdata" in COMPOSE["volumes"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "dispatcher"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully")
    assert services["api"]["ports"] == ["8000:8000"]
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    storage = services["api"]["environment"]["MODERATION_RATE_LIMIT_STORAGE_URI"]
    assert storage.startswith("redis://redis:6379/")
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("api", "dispatcher"):  # checkpoints signed and listed with the same key
        assert services[name]["environment"]["MODERATION_SIGNING_KEY"] == (
            "${MODERATION_SIGNING_KEY:-}")


@pytest.mark.parametrize("name", ["migrate", "api", "dispatcher"])
def test_each_service_runs_a_real_cli_command_against_postgres(name):
    service = COMPOSE["services"][name]
    assert service["build"] == "."
    env = service["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://moderation:")
    assert "@db:5432/" in env["DATABASE_URL"]
    cli_accepts(service["command"])


def test_the_dockerfile_installs_the_service_and_runs_the_cli():
    for source in re.findall(r"^COPY (.+?) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY of missing {path}"
    assert 'ENTRYPOINT ["moderation"]' in DOCKERFILE
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    cli_accepts(yaml.safe_load(cmd))
    assert "pip install -e ." in DOCKERFILE


def test_compose_comments_show_real_commands():
    for line in (ROOT / "docker-compose.yml").read_text().splitlines():
        if "docker compose run --rm api " in line:
            args = shlex.split(line.split("docker compose run --rm api ", 1)[1].rstrip("`"))
            cli_accepts(args)


def test_only_the_api_inherits_the_http_healthcheck_and_the_build_context_is_small():
    services = COMPOSE["services"]
    for name in ("migrate", "dispatcher"):
        assert services[name]["healthcheck"] == {"disable": True}, name
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", "tests", "*.db"):
        assert path in ignored
    for source in re.findall(r"^COPY (.+?) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert path not in ignored, f"{path} is copied but ignored"


def test_production_keys_come_from_the_environment_and_the_master_key_is_required():
    env = COMPOSE["x-service-env"]
    assert env["MODERATION_MASTER_KEY"].startswith("${MODERATION_MASTER_KEY:?")
    assert env["MODERATION_SIGNING_KEY"].startswith("${MODERATION_SIGNING_KEY")
    for name in ("migrate", "api", "dispatcher"):
        assert COMPOSE["services"][name]["environment"]["MODERATION_MASTER_KEY"]
