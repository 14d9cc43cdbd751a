"""`moderation webhooks ...` as an operator uses it."""

from __future__ import annotations

import re

from click.testing import CliRunner

from service.cli import main

from .conftest import moderate
from .receivers import Receiver


def invoke(settings, *args: str):  # noqa: ANN001
    env = {"DATABASE_URL": settings.database_url, "MODERATION_WEBHOOK_ALLOW_LOOPBACK": "1",
           "MODERATION_WEBHOOK_TIMEOUT_SECONDS": "2"}
    return CliRunner().invoke(main, ["webhooks", *args], env=env, catch_exceptions=False)


def test_register_deliver_inspect_redeliver(services, receiver: Receiver):
    added = invoke(services.settings, "endpoints", "add", receiver.url,
                   "--event-type", "comment.approved", "--description", "cache purger")
    assert added.exit_code == 0, added.output
    secret = re.search(r"(whsec_\S+)", added.output).group(1)
    receiver.secrets.append(secret)
    endpoint_id = re.search(r"endpoint (\d+) registered", added.output).group(1)
    moderate(services)
    assert invoke(services.settings, "endpoints", "test", endpoint_id).exit_code == 0
    worked = invoke(services.settings, "work", "--once")
    assert worked.exit_code == 0, worked.output
    assert "succeeded 2" in worked.output
    assert sorted(r.payload["type"] for r in receiver.received) == [
        "comment.approved", "webhook.ping"]
    assert all(r.verified_with == [0] for r in receiver.received)
    listed = invoke(services.settings, "endpoints", "list").output
    assert "succeeded 2" in listed and "comment.approved" in listed
    rows = invoke(services.settings, "deliveries", "--endpoint", endpoint_id).output
    delivery_id = rows.split()[0]
    assert '"status_code": 204' in invoke(services.settings, "delivery", delivery_id).output
    assert invoke(services.settings, "redeliver", delivery_id).exit_code == 0
    invoke(services.settings, "work", "--once")
    assert len(receiver.received) == 3
    rotated = invoke(services.settings, "endpoints", "rotate-secret", endpoint_id).output
    assert "whsec_" in rotated and "signs too until" in rotated
    assert invoke(services.settings, "endpoints", "disable", endpoint_id).exit_code == 0
    assert "DISABLED" in invoke(services.settings, "endpoints", "list").output
    refused = CliRunner().invoke(main, ["webhooks", "endpoints", "test", endpoint_id],
                                 env={"DATABASE_URL": services.settings.database_url})
    assert refused.exit_code == 1 and "disabled" in refused.output
    assert invoke(services.settings, "endpoints", "enable", endpoint_id).exit_code == 0
    recovered = invoke(services.settings, "endpoints", "recover", endpoint_id,
                       "--since", "2000-01-01")
    assert "requeued 0" in recovered.output


def test_unsafe_urls_are_refused(services):
    result = CliRunner().invoke(main, ["webhooks", "endpoints", "add",
                                       "http://169.254.169.254/latest"],
                                env={"DATABASE_URL": services.settings.database_url})
    assert result.exit_code == 1
    assert "link-local" in result.output
