"""Every table the service owns, gathered on one MetaData for Alembic and the tests."""

from .application import claims, idempotency  # noqa: F401
from .db import metadata
from .eventstore import tables  # noqa: F401
from .identity import tokens  # noqa: F401
from .projections import runner  # noqa: F401  (imports every projection module)
from .webhooks import tables as webhook_tables  # noqa: F401

__all__ = ["metadata"]
