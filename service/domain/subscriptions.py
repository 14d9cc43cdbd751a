"""What a webhook subscriber can be sent: the event types an endpoint may subscribe to, the
test ping, the longest description an endpoint keeps, and the states of a delivery.

Named here, not in the webhook package, because two sides share them: the package that
sends and the API that describes and validates what may be asked for.
"""

from __future__ import annotations

SUBSCRIBABLE = ("comment.submitted", "comment.screened", "comment.approved", "comment.rejected",
                "article.closed", "article.reopened", "audit.checkpoint",
                "author.erased", "author.warned", "author.suspended", "author.banned",
                "author.sanction_lifted", "author.noted", "comment.reported",
                "comment.reports_dismissed")
PING = "webhook.ping"
MAX_DESCRIPTION = 500
DELIVERY_STATUSES = ("pending", "succeeded", "failed")
