"""Settings, read once from the environment. The only module that looks at os.environ."""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    body_max_chars: int = 5000
    max_request_bytes: int = 64 * 1024
    pg_lock_timeout_ms: int = 5000
    pg_idle_in_transaction_timeout_ms: int = 60000
    pg_statement_timeout_ms: int = 30000
    sqlite_busy_timeout_ms: int = 30000
    pool_size: int = 5
    submit_rate_limit: str = "30/minute;500/hour"
    rate_limit_storage_uri: str = "memory://"
    trust_proxy_hops: int = 0
    log_level: str = "INFO"
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
            pool_size=_int(env, "MODERATION_DB_POOL_SIZE", d.pool_size),
            submit_rate_limit=env.get("MODERATION_SUBMIT_RATE_LIMIT") or d.submit_rate_limit,
            rate_limit_storage_uri=(
                env.get("MODERATION_RATE_LIMIT_STORAGE_URI") or d.rate_limit_storage_uri),
            trust_proxy_hops=_int(env, "MODERATION_TRUST_PROXY_HOPS", d.trust_proxy_hops),
            log_level=env.get("MODERATION_LOG_LEVEL") or d.log_level,
        )

    def with_database(self, url: str) -> Settings:
        return replace(self, database_url=url)
