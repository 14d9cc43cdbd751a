"""The dispatcher: claim due deliveries, send them with no transaction open, record outcomes.

Per batch: a short write transaction claims due deliveries (a lease), and a short read
gathers the endpoints' URLs and signing secrets. Per delivery: the POST runs under its
total deadline with nothing open in the database, and a second short write transaction
stores the attempt and the delivery's next state.

Outcomes:
- 2xx: succeeded. Anything else is a failure, redirects included (never followed).
- 410 Gone: the delivery fails for good and the endpoint is disabled.
- Otherwise the next automatic attempt follows the retry schedule (default: Standard
  Webhooks' ten attempts over about three days) with +-jitter; 429 and timeouts wait at
  least a minute; a Retry-After is honoured between one and two times the scheduled delay.
  After the last attempt the delivery is `failed` and can be redelivered by hand.
- An endpoint whose attempts have all failed for `disable_after` (default 5 days, any
  success resets the clock) is disabled with the reason recorded. Its pending deliveries
  wait, and go out when an admin enables it again.

Delivery is at least once: a dispatcher that dies after sending but before recording leaves
its lease to expire, and the delivery is sent again. Receivers deduplicate on `webhook-id`,
which is the event id on every attempt. There is no ordering promise.

Two clocks: `clock` (injected, fake in tests) decides schedules, leases and disabling;
`wall_clock` (real time) stamps `webhook-timestamp`, which receivers check against their own
clocks within five minutes.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import read_transaction, write_transaction
from ..domain.events import WebhookEndpointDisabled, webhook_endpoint_stream
from ..eventstore import ANY, EventStore
from ..eventstore.codec import CodecFactory
from ..eventstore.master_key import NO_MASTER, MasterKeys
from . import endpoints, outbox, payloads, signing
from .outbox import AUTO, FAILED, MANUAL, PENDING, SUCCEEDED, AttemptRecord, Claimed
from .transport import Response, Transport, TransportError

log = logging.getLogger(__name__)

THROTTLE_MIN_SECONDS = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """SCHEDULE[i] is the delay before automatic attempt i+1 (the first is normally 0)."""

    schedule: tuple[float, ...]
    jitter: float = 0.2

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def delay_after(self, attempts_made: int, *, throttled: bool = False,
                    retry_after: float | None = None,
                    rnd: random.Random | None = None) -> float | None:
        """Seconds until the next automatic attempt, or None when they are used up."""
        if attempts_made >= len(self.schedule):
            return None
        base = float(self.schedule[attempts_made])
        rnd = rnd or random
        delay = base * (1 + rnd.uniform(-self.jitter, self.jitter)) if self.jitter else base
        if throttled:  # 429 or a timeout: give the receiver at least a minute
            base = max(base, THROTTLE_MIN_SECONDS)
            delay = max(delay, THROTTLE_MIN_SECONDS)
        if retry_after is not None:
            # The receiver may slow us down, within bounds: at most twice the schedule.
            delay = max(delay, min(retry_after, 2 * base))
        return max(delay, 0.0)


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment.timestamp() - now_epoch, 0.0)


@dataclass
class Stats:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    lapsed: int = 0
    errors: int = 0
    endpoints_disabled: int = 0
    checkpoints: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    succeeded: bool
    status_code: int | None
    error: str | None
    state: str  # the delivery's status after this attempt
    next_attempt_at: datetime | None


class Dispatcher:
    def __init__(self, engine: Engine, transport: Transport, retry: RetryPolicy, *,
                 store: EventStore, codec_for: CodecFactory,
                 unit_of_work: Callable[[], Any],
                 clock: Callable[[], datetime], lease: timedelta, disable_after: timedelta,
                 wall_clock: Callable[[], float] = time.time,
                 rnd: random.Random | None = None, name: str | None = None,
                 checkpoint: Callable[[], object] | None = None,
                 master: MasterKeys = NO_MASTER,
                 housekeeping: Callable[[], object] | None = None,
                 housekeeping_seconds: float = 3600.0):
        self.engine = engine
        self.master = master
        # chores a deployment needs done regularly (the network-address sweep), run at
        # most every housekeeping_seconds, never holding up deliveries for long
        self.housekeeping = housekeeping
        self.housekeeping_seconds = housekeeping_seconds
        self.store = store
        self.codec_for = codec_for
        self.unit_of_work = unit_of_work  # the dispatcher's own events go through it
        self.transport = transport
        self.retry = retry
        self.clock = clock
        self.lease = lease
        self.disable_after = disable_after
        self.wall_clock = wall_clock
        self.rnd = rnd or random.Random()
        self.name = name or f"dispatcher-{uuid.uuid4().hex[:8]}"
        self.stats = Stats()
        # Signs a checkpoint of the log when one is due (MODERATION_CHECKPOINT_EVERY / _MINUTES)
        self.checkpoint = checkpoint

    # -- one delivery ---------------------------------------------------------------------

    def claim(self, limit: int) -> list[Claimed]:
        if limit <= 0:
            return []
        with write_transaction(self.engine) as conn:
            claimed = outbox.claim(conn, now=self.clock(), lease=self.lease, limit=limit)
        self.stats.add(claimed=len(claimed))
        return claimed

    def process(self, claimed: Claimed,
                prepared: tuple[str, list[str], str] | None = None) -> Outcome | None:
        """Send one claimed delivery and record what happened. None if it vanished."""
        prepared = prepared or self.prepare([claimed]).get(claimed.id)
        if prepared is None:
            return None
        url, secrets, body = prepared
        headers = signing.signature_headers(secrets, claimed.event_id,
                                            int(self.wall_clock()), body)
        started_at = self.clock()
        try:
            response: Response | None = self.transport.post(url, body.encode("utf-8"), headers)
            error = None if 200 <= response.status < 300 else _status_error(response)
            duration = response.duration_ms
        except TransportError as exc:
            response, error, duration = None, str(exc)[:500], exc.duration_ms
        return self._record(claimed, started_at, duration, response, error)

    def prepare(self, batch: list[Claimed]) -> dict[int, tuple[str, list[str], str]]:
        """URL, signing secrets and body of each claimed delivery, read in one transaction.
        Deliveries whose endpoint was deleted since the claim are left out."""
        prepared: dict[int, tuple[str, list[str], str]] = {}
        if not batch:
            return prepared
        e = endpoints.webhook_endpoints
        with read_transaction(self.engine) as conn:
            ids = sorted({c.endpoint_id for c in batch})
            urls = dict(conn.execute(sa.select(e.c.id, e.c.url).where(e.c.id.in_(ids))).all())
            now = self.clock()
            secrets = {i: endpoints.signing_secrets(conn, i, now, self.master) for i in urls}
            for claimed in batch:
                if claimed.endpoint_id not in urls:
                    continue
                body = claimed.payload
                if claimed.include_body and claimed.event_type == payloads.BODY_EVENT:
                    body = payloads.with_body(body, *self._comment_body(conn, claimed.event_id))
                prepared[claimed.id] = (urls[claimed.endpoint_id],
                                        secrets[claimed.endpoint_id], body)
        return prepared

    def _comment_body(self, conn: sa.Connection, event_id: str) -> tuple[str | None, bool]:
        """The comment's text as the log holds it now, and whether its author was erased."""
        recorded = self.store.get(conn, event_id)
        if recorded is None:
            return None, False
        event = self.codec_for(conn).decode(recorded)
        return getattr(event, "body", None), bool(getattr(event, "erased", False))

    def _record(self, claimed: Claimed, started_at: datetime, duration_ms: int,
                response: Response | None, error: str | None) -> Outcome:
        succeeded = response is not None and 200 <= response.status < 300
        gone = response is not None and response.status == 410
        now = self.clock()
        d = outbox.webhook_deliveries
        with self.unit_of_work() as uow:
            conn = uow.conn
            current = conn.execute(
                sa.select(d.c.status, d.c.next_attempt_at, d.c.manual_requested_at,
                          d.c.lock_token).where(d.c.id == claimed.id).with_for_update()
            ).one_or_none()
            if current is None:
                return Outcome(claimed.id, succeeded, _code(response), error, "deleted", None)
            ours = current.lock_token == claimed.lock_token
            status, next_at = current.status, current.next_attempt_at
            manual_at = current.manual_requested_at
            state: dict[str, Any] = {}
            if claimed.manual:
                trigger, number = MANUAL, None
                if manual_at == claimed.manual_requested_at:
                    manual_at = None  # this request is served; a newer one stays queued
            else:
                trigger, number = AUTO, claimed.attempts + 1
                state["attempts"] = number
                next_at = None
            if succeeded:
                status, next_at = SUCCEEDED, None
                state["succeeded_at"] = now
            elif gone:
                status, next_at = FAILED, None
            elif not claimed.manual:
                throttled = (response.status == 429 if response is not None
                             else (error or "").startswith(("timeout", "deadline")))
                retry_after = parse_retry_after(
                    response.headers.get("retry-after") if response else None,
                    self.wall_clock())
                delay = self.retry.delay_after(number, throttled=throttled,
                                               retry_after=retry_after, rnd=self.rnd)
                if delay is None:
                    status = FAILED
                else:
                    status, next_at = PENDING, now + timedelta(seconds=delay)
            state.update(status=status, next_attempt_at=next_at, manual_requested_at=manual_at,
                         due_at=outbox.due_at(status, next_at, manual_at))
            attempt = AttemptRecord(
                kind=trigger, number=number, started_at=started_at, duration_ms=duration_ms,
                status_code=_code(response), succeeded=succeeded, error=error,
                response_body=_excerpt(response),
                next_attempt_at=next_at if ours and status == PENDING else None)
            applied = outbox.record(conn, claimed, attempt, state if ours else None)
            disabled = self._endpoint_health(uow, claimed.endpoint_id, now, succeeded, gone,
                                             error)
            uow.commit()
        self._log(claimed, trigger, number, response, error, status, next_at, applied)
        if not applied:
            self.stats.add(lapsed=1)
        elif succeeded:
            self.stats.add(succeeded=1)
        elif status == PENDING:
            self.stats.add(retrying=1)
        else:
            self.stats.add(failed=1)
        if disabled:
            self.stats.add(endpoints_disabled=1)
        return Outcome(claimed.id, succeeded, _code(response), error, status, next_at)

    def _endpoint_health(self, uow: Any, endpoint_id: int, now: datetime,
                         succeeded: bool, gone: bool, error: str | None) -> bool:
        """Track the endpoint's failure run; disable it (recording `webhook_endpoint.disabled`
        with the dispatcher as actor, in this transaction) when it has failed too long."""
        conn = uow.conn
        e = endpoints.webhook_endpoints
        if succeeded:
            conn.execute(e.update().where(e.c.id == endpoint_id, e.c.failing_since.is_not(None))
                         .values(failing_since=None))
            return False
        if gone:
            reason = f"the endpoint answered 410 Gone at {payloads.iso(now)}"
        else:
            conn.execute(e.update().where(e.c.id == endpoint_id, e.c.failing_since.is_(None))
                         .values(failing_since=now))
            since = conn.execute(sa.select(e.c.failing_since).where(e.c.id == endpoint_id)
                                 ).scalar_one_or_none()
            if since is None or now - since < self.disable_after:
                return False
            hours = self.disable_after.total_seconds() / 3600
            reason = (f"every attempt failed for {hours:g} h (since "
                      f"{payloads.iso(since)}); last error: {error}")[:500]
        if endpoints.disable(conn, endpoint_id, now=now, reason=reason):
            uow.record(webhook_endpoint_stream(endpoint_id),
                       [WebhookEndpointDisabled(endpoint_id, reason[:500], now)], ANY,
                       {"actor": {"id": self.name, "role": "system"}})
            log.warning("webhook endpoint %d disabled: %s", endpoint_id, reason)
            return True
        return False

    def _log(self, claimed: Claimed, trigger: str, number: int | None,
             response: Response | None, error: str | None, status: str,
             next_at: datetime | None, applied: bool) -> None:
        what = (f"delivery {claimed.id} ({claimed.event_type} {claimed.event_id}) to endpoint "
                f"{claimed.endpoint_id}, {trigger} attempt {number or '-'}")
        result = f"HTTP {response.status}" if response is not None else error
        if not applied:
            log.warning("%s: %s, but its lease had lapsed; state left to the new holder",
                        what, result)
        elif status == SUCCEEDED:
            log.info("%s: %s in %d ms", what, result, response.duration_ms if response else 0)
        elif status == PENDING:
            log.warning("%s: %s; next attempt at %s", what, error or result,
                        payloads.iso(next_at))
        else:
            log.warning("%s: %s; delivery failed, no more automatic attempts", what,
                        error or result)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, concurrency: int = 4, once: bool = False,
            stop: threading.Event | None = None, poll_seconds: float = 1.0) -> Stats:
        """Claim and send until STOP is set (or, with ONCE, until nothing is due).

        Sends already started when STOP is set are finished and recorded (each is bounded by
        the transport's deadline); nothing new is claimed.
        """
        stop = stop or threading.Event()
        inflight: set[Future] = set()
        checked = kept = float("-inf")
        with ThreadPoolExecutor(concurrency, thread_name_prefix=self.name) as pool:
            while not stop.is_set():
                if self.housekeeping is not None and \
                        time.monotonic() - kept >= self.housekeeping_seconds:
                    kept = time.monotonic()
                    self._housekeeping()
                if self.checkpoint is not None and time.monotonic() - checked >= poll_seconds:
                    checked = time.monotonic()
                    self._checkpoint_if_due()  # first: its deliveries go out in this run
                free = concurrency - len(inflight)
                try:
                    claimed = self.claim(free)
                except sa.exc.SQLAlchemyError as exc:
                    if once:
                        raise
                    log.error("claiming deliveries failed, retrying: %s", exc)
                    self.stats.add(errors=1)
                    stop.wait(poll_seconds)
                    continue
                if claimed:
                    try:
                        ready = self.prepare(claimed)
                    except sa.exc.SQLAlchemyError as exc:  # the leases bring them back
                        log.error("reading claimed deliveries failed: %s", exc)
                        self.stats.add(errors=1)
                        ready = {}
                    for item in claimed:
                        if item.id in ready:
                            inflight.add(pool.submit(self._safe_process, item, ready[item.id]))
                if not inflight:
                    if once:
                        break
                    stop.wait(poll_seconds)
                    continue
                # Got all we asked for: more may be due, so claim again as soon as a slot
                # frees. Otherwise nothing else is due: look again after the poll interval.
                more = bool(claimed) and len(claimed) == free
                _, inflight = wait(inflight, timeout=None if more else poll_seconds,
                                   return_when=FIRST_COMPLETED)
            wait(inflight)
        return self.stats

    def _housekeeping(self) -> None:
        try:
            self.housekeeping()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - deliveries go on; tried again next time
            log.exception("housekeeping failed; trying again later")
            self.stats.add(errors=1)

    def _checkpoint_if_due(self) -> None:
        try:
            if self.checkpoint is not None and self.checkpoint() is not None:
                self.stats.add(checkpoints=1)
        except Exception:  # noqa: BLE001 - deliveries go on; the next poll tries again
            log.exception("signing a checkpoint failed; trying again at the next poll")
            self.stats.add(errors=1)

    def _safe_process(self, claimed: Claimed,
                      prepared: tuple[str, list[str], str]) -> Outcome | None:
        try:
            return self.process(claimed, prepared)
        except Exception:  # noqa: BLE001 - the lease expires and the delivery is retried
            log.exception("delivery %d: unexpected error; it will be retried after its lease",
                          claimed.id)
            self.stats.add(errors=1)
            return None


def _code(response: Response | None) -> int | None:
    return response.status if response is not None else None


def _status_error(response: Response) -> str:
    if 300 <= response.status < 400:
        location = response.headers.get("location", "")
        return (f"HTTP {response.status} redirect (not followed)"
                + (f" to {location[:200]}" if location else ""))
    return f"HTTP {response.status}"


def _excerpt(response: Response | None) -> str | None:
    if response is None or not response.body:
        return None
    text = response.body.decode("utf-8", errors="replace")
    return text + (" [truncated]" if response.truncated else "")
