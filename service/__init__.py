"""Event-sourced comment moderation service."""
