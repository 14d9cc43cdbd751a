"""API tokens as an administrative action: each creation and revocation is an event in the
log (`token.created`, `token.revoked`) with its actor, appended in the transaction that
writes the token table. The event never holds the token, its hash or its hint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ..db import read_transaction, write_transaction
from ..domain.events import TokenCreated, TokenRevoked, token_stream
from ..eventstore import ANY, NO_STREAM
from ..identity import tokens
from .commands import Context
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class Access:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 engine: Engine):
        self._unit_of_work = unit_of_work
        self.clock = clock
        self._engine = engine

    def authenticate(self, token: str) -> tokens.TokenInfo | None:
        """The active token's record, or None. Its last use is recorded at most once a
        minute or so, and a failure to record it does not fail the request."""
        with read_transaction(self._engine) as conn:
            info = tokens.verify(conn, token)
        if info is None:
            return None
        now = self.clock()
        if tokens.needs_touch(info, now):
            try:
                with write_transaction(self._engine) as conn:
                    tokens.touch(conn, info.id, now=now)
            except OperationalError as exc:  # a usage hint is not worth failing a request
                log.warning("could not record use of token %d: %s", info.id, exc)
        return info

    def create_token(self, *, name: str, role: str,
                     ctx: Context) -> tuple[tokens.TokenInfo, str]:
        """A token for NAME with ROLE; returns its record and the token (shown once)."""
        with self._unit_of_work() as uow:
            info, token = tokens.create(uow.conn, name=name, role=role, now=self.clock())
            uow.record(token_stream(info.id),
                       [TokenCreated(info.id, info.name, info.role, info.created_at)],
                       NO_STREAM, ctx.metadata())
            uow.commit()
        log.info("token %d (%s, %s) created by %s", info.id, info.name, info.role,
                 ctx.actor.id)
        return info, token

    def revoke_token(self, token_id: int, *, ctx: Context) -> tokens.TokenInfo:
        """Revoke a token; revoking a revoked one changes nothing and records nothing."""
        with self._unit_of_work() as uow:
            before = tokens.get(uow.conn, token_id)
            info = tokens.revoke(uow.conn, token_id, now=self.clock())
            if before is not None and before.active:
                # ANY: tokens made before creations were recorded have no stream yet
                uow.record(token_stream(info.id),
                           [TokenRevoked(info.id, info.name, info.role, info.revoked_at)],
                           ANY, ctx.metadata())
            uow.commit()
        log.info("token %d (%s) revoked by %s", info.id, info.name, ctx.actor.id)
        return info
