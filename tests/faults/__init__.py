"""Fault tests (issue 6): real `moderation serve` processes under concurrent clients, with
the database restarted, workers killed, clients timing out and retrying, and several
processes on one SQLite file. The webhook dispatcher's kill-and-restart tests live with the
dispatcher, in tests/webhooks/test_processes.py."""
