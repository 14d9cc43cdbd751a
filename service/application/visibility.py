"""What each role may read of the event log, in the feed and in the live stream.

Admins read every event, and so do auditors, without personal data (author name, e-mail,
address, comment text: see the codec's public payload). Moderators decide on comments and
authors and read what that needs, with its personal data, but not the administration of
the service: who was given or lost a token, where webhooks point, and an admin's look-ups and
exports of a data subject. Those are admin work (the webhook and privacy endpoints are
admin-only), audited by auditors and admins in GET /v1/audit/actions, which moderators may
not read either. An erasure stays visible to moderators: it changes what they see.
"""

from __future__ import annotations

from ..domain.events import ADMIN_EVENTS, AuthorExported, AuthorLookedUp

ADMIN_WORK = frozenset({*(cls.TYPE for cls in ADMIN_EVENTS), AuthorLookedUp.TYPE,
                        AuthorExported.TYPE})
_READ_EVERYTHING = frozenset({"auditor", "admin"})
_READ_PERSONAL_DATA = frozenset({"moderator", "admin"})


def hidden_types(role: str | None) -> frozenset[str]:
    """The event types a caller with this role never receives from the log."""
    return frozenset() if role in _READ_EVERYTHING else ADMIN_WORK


def reads_personal_data(role: str | None) -> bool:
    return role in _READ_PERSONAL_DATA
