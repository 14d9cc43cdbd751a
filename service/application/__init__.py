"""Use cases: load the aggregate, let the domain decide, append, project; one transaction each."""
