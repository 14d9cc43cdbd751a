"""Outgoing webhooks from the event log: signed, durable, retried, observable.

- endpoints.py  where events go, which types, the secrets that sign them (with rotation)
- outbox.py     delivery rows written in the event's transaction; the one-statement claim
- payloads.py   the small stable `{"type", "timestamp", "data"}` document
- signing.py    Standard Webhooks signatures (the `standardwebhooks` package)
- ssrf.py       which URLs and addresses may be sent to
- transport.py  one POST, pinned to the checked address, under a total deadline
- dispatcher.py claim, send with no transaction open, record, retry, disable
- admin.py      `Webhooks`: what the API and the CLI call

Delivery is at least once and unordered; receivers deduplicate on `webhook-id`.
"""
