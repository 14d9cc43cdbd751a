"""Settings, read once from the environment. The only module that looks at os.environ."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace

DEFAULT_DATABASE_URL = "sqlite:///moderation.db"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name} must be an integer, got {raw!r}") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name} must be a number, got {raw!r}") from None


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise SystemExit(f"configuration error: {name} must be greater than zero")
    return value


def _at_least(value: float, low: float, name: str):  # noqa: ANN202 - int or float
    if value < low:
        raise SystemExit(f"configuration error: {name} must be at least {low:g} "
                         "(0 switches it off)")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"configuration error: {name} must be true or false, got {raw!r}")


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _durations(env: dict[str, str], name: str,
               default: tuple[float, ...]) -> tuple[float, ...]:
    """A comma-separated list of durations: seconds, or a number with s, m, h or d."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    out = []
    for part in raw.split(","):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", part)
        if not match:
            raise SystemExit(f"configuration error: {name} must be a comma-separated list of "
                             f"durations like 0,5s,5m,2h,1d; got {raw!r}")
        out.append(float(match.group(1)) * _UNITS[match.group(2)])
    return tuple(out)


# Standard Webhooks' example schedule: the delay before each automatic attempt (the first is
# immediate), 10 attempts over about three days.
WEBHOOK_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    body_max_chars: int = 5000
    max_request_bytes: int = 64 * 1024
    pg_lock_timeout_ms: int = 5000
    pg_idle_in_transaction_timeout_ms: int = 60000
    pg_statement_timeout_ms: int = 30000
    sqlite_busy_timeout_ms: int = 30000
    # Outgoing webhooks (service/webhooks). Loopback receivers are refused unless
    # webhook_allow_loopback is set (tests and local development only).
    webhook_allow_loopback: bool = False
    webhook_https_only: bool = False
    webhook_timeout_seconds: float = 15.0  # total deadline per attempt: connect+send+read
    webhook_connect_timeout_seconds: float = 5.0
    webhook_retry_schedule: tuple[float, ...] = WEBHOOK_RETRY_SCHEDULE
    webhook_retry_jitter: float = 0.2
    webhook_disable_after_hours: float = 120.0  # failing continuously this long: disabled
    webhook_secret_overlap_hours: float = 24.0
    webhook_lease_seconds: float = 60.0  # a claimed delivery returns to the queue after this
    webhook_response_max_bytes: int = 4096
    webhook_poll_seconds: float = 1.0
    webhook_concurrency: int = 4
    pool_size: int = 5
    claim_seconds: float = 300.0  # how long a moderator's claim on a comment lasts
    reports_withhold_at: int = 0  # open reader reports that withhold a comment; 0: never
    auto_close_days: float = 0.0  # articles close this long after publication; 0: never
    submit_rate_limit: str = "30/minute;500/hour"
    rate_limit_storage_uri: str = "memory://"
    trust_proxy_hops: int = 0
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object per line, with the request id
    screening_wordlists: str = ""
    # Signed checkpoints of the hash chain (service/audit): the Ed25519 key as base64 of its
    # 32-byte seed (unset: the key file the demo writes beside a SQLite database, if any)
    signing_key: str = field(default="", repr=False)
    checkpoint_every: int = 1000  # the dispatcher signs a checkpoint after this many events
    checkpoint_minutes: float = 60.0  # ... or this long after the last one, if any came
    stream_poll_seconds: float = 0.5  # how often a process looks for new events to stream
    stream_heartbeat_seconds: float = 15.0
    stream_max_open: int = 200  # open event streams per server process
    stream_max_seconds: float = 900.0  # a stream then ends; clients resume with Last-Event-ID
    address_retention_days: int = 30  # network addresses unreadable after `privacy sweep`
    # Master keys wrapping subject keys and webhook secrets at rest: base64 of 32 bytes,
    # comma-separated, the first wraps (unset: the key file, else none)
    master_key: str = field(default="", repr=False)
    master_key_file: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        d = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or d.database_url,
            body_max_chars=_int(env, "MODERATION_BODY_MAX_CHARS", d.body_max_chars),
            max_request_bytes=_int(env, "MODERATION_MAX_REQUEST_BYTES", d.max_request_bytes),
            pg_lock_timeout_ms=_int(env, "MODERATION_PG_LOCK_TIMEOUT_MS", d.pg_lock_timeout_ms),
            pg_idle_in_transaction_timeout_ms=_int(
                env, "MODERATION_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                d.pg_idle_in_transaction_timeout_ms),
            pg_statement_timeout_ms=_int(
                env, "MODERATION_PG_STATEMENT_TIMEOUT_MS", d.pg_statement_timeout_ms),
            sqlite_busy_timeout_ms=_int(
                env, "MODERATION_SQLITE_BUSY_TIMEOUT_MS", d.sqlite_busy_timeout_ms),
            **_webhook_settings(env, d),
            pool_size=_int(env, "MODERATION_DB_POOL_SIZE", d.pool_size),
            auto_close_days=_float(env, "MODERATION_AUTO_CLOSE_DAYS", d.auto_close_days),
            reports_withhold_at=_int(env, "MODERATION_REPORTS_WITHHOLD_AT",
                                     d.reports_withhold_at),
            claim_seconds=_positive(_float(env, "MODERATION_CLAIM_SECONDS", d.claim_seconds),
                                    "MODERATION_CLAIM_SECONDS"),
            submit_rate_limit=env.get("MODERATION_SUBMIT_RATE_LIMIT") or d.submit_rate_limit,
            rate_limit_storage_uri=(
                env.get("MODERATION_RATE_LIMIT_STORAGE_URI") or d.rate_limit_storage_uri),
            trust_proxy_hops=_int(env, "MODERATION_TRUST_PROXY_HOPS", d.trust_proxy_hops),
            log_level=env.get("MODERATION_LOG_LEVEL") or d.log_level,
            log_format=_choice(env, "MODERATION_LOG_FORMAT", d.log_format, ("text", "json")),
            screening_wordlists=env.get("MODERATION_SCREENING_WORDLISTS") or "",
            signing_key=(env.get("MODERATION_SIGNING_KEY") or "").strip(),
            checkpoint_every=_at_least(_int(env, "MODERATION_CHECKPOINT_EVERY",
                                            d.checkpoint_every), 0, "MODERATION_CHECKPOINT_EVERY"),
            checkpoint_minutes=_at_least(_float(env, "MODERATION_CHECKPOINT_MINUTES",
                                                d.checkpoint_minutes), 0,
                                         "MODERATION_CHECKPOINT_MINUTES"),
            **_stream_settings(env, d),
            master_key=env.get("MODERATION_MASTER_KEY") or "",
            master_key_file=env.get("MODERATION_MASTER_KEY_FILE") or "",
            address_retention_days=int(_positive(
                _int(env, "MODERATION_ADDRESS_RETENTION_DAYS", d.address_retention_days),
                "MODERATION_ADDRESS_RETENTION_DAYS")),
        )

    def with_database(self, url: str) -> Settings:
        return replace(self, database_url=url)


def _stream_settings(env: dict[str, str], d: Settings) -> dict[str, object]:
    def positive(name: str, default: float) -> float:
        return _positive(_float(env, name, default), name)

    return dict(
        stream_poll_seconds=positive("MODERATION_STREAM_POLL_SECONDS", d.stream_poll_seconds),
        stream_heartbeat_seconds=positive("MODERATION_STREAM_HEARTBEAT_SECONDS",
                                          d.stream_heartbeat_seconds),
        stream_max_open=int(_positive(_int(env, "MODERATION_STREAM_MAX_OPEN", d.stream_max_open),
                                      "MODERATION_STREAM_MAX_OPEN")),
        stream_max_seconds=positive("MODERATION_STREAM_MAX_SECONDS", d.stream_max_seconds),
    )


def _webhook_settings(env: dict[str, str], d: Settings) -> dict[str, object]:
    p = "MODERATION_WEBHOOK_"
    values: dict[str, object] = dict(
        webhook_allow_loopback=_bool(env, p + "ALLOW_LOOPBACK", d.webhook_allow_loopback),
        webhook_https_only=_bool(env, p + "HTTPS_ONLY", d.webhook_https_only),
        webhook_timeout_seconds=_float(env, p + "TIMEOUT_SECONDS", d.webhook_timeout_seconds),
        webhook_connect_timeout_seconds=_float(
            env, p + "CONNECT_TIMEOUT_SECONDS", d.webhook_connect_timeout_seconds),
        webhook_retry_schedule=_durations(env, p + "RETRY_SCHEDULE", d.webhook_retry_schedule),
        webhook_retry_jitter=_float(env, p + "RETRY_JITTER", d.webhook_retry_jitter),
        webhook_disable_after_hours=_float(
            env, p + "DISABLE_AFTER_HOURS", d.webhook_disable_after_hours),
        webhook_secret_overlap_hours=_float(
            env, p + "SECRET_OVERLAP_HOURS", d.webhook_secret_overlap_hours),
        webhook_lease_seconds=_float(env, p + "LEASE_SECONDS", d.webhook_lease_seconds),
        webhook_response_max_bytes=_int(
            env, p + "RESPONSE_MAX_BYTES", d.webhook_response_max_bytes),
        webhook_poll_seconds=_float(env, p + "POLL_SECONDS", d.webhook_poll_seconds),
        webhook_concurrency=_int(env, p + "CONCURRENCY", d.webhook_concurrency),
    )
    schedule = values["webhook_retry_schedule"]
    if not schedule:
        raise SystemExit(f"configuration error: {p}RETRY_SCHEDULE needs at least one entry")
    timeout = float(values["webhook_timeout_seconds"])  # type: ignore[arg-type]
    if timeout <= 0 or float(values["webhook_lease_seconds"]) < timeout + 5:  # type: ignore[arg-type]
        raise SystemExit(f"configuration error: {p}LEASE_SECONDS must exceed "
                         f"{p}TIMEOUT_SECONDS by at least 5 s, so a delivery still being sent "
                         "is never handed to a second worker")
    if not 0 <= float(values["webhook_retry_jitter"]) < 1:  # type: ignore[arg-type]
        raise SystemExit(f"configuration error: {p}RETRY_JITTER must be in [0, 1)")
    if int(values["webhook_concurrency"]) < 1:  # type: ignore[call-overload]
        raise SystemExit(f"configuration error: {p}CONCURRENCY must be at least 1")
    return values


def _choice(env: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise SystemExit(f"configuration error: {name} must be one of {', '.join(allowed)}, "
                         f"got {value!r}")
    return value


# Metrics of several server processes meet in files in one directory; prometheus_client
# reads its name from this variable in every worker.
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def shared_metrics_directory() -> str | None:
    return os.environ.get(METRICS_DIRECTORY_VARIABLE) or None


def prepare_metrics_directory() -> str:
    """Before a server forks its workers: the directory named by the variable (emptied, as
    a new server's counters start at zero), or a fresh temporary one, named for them."""
    path = shared_metrics_directory() or tempfile.mkdtemp(prefix="moderation-metrics-")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ[METRICS_DIRECTORY_VARIABLE] = path
    return path
