"""Read models derived from the event log: one module each, all rebuildable from the log."""
