"""Who may call the API: bearer tokens with a role, stored only as hashes."""
