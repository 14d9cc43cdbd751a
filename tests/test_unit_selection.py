"""`pytest -m unit` selects the unit modules, and their database cases only on the in-memory
database; the in-memory variant never runs anywhere else."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import UNIT_MODULES

ROOT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "no:randomly", *args, "tests"], cwd=ROOT, capture_output=True, text=True,
        check=True)
    return [line for line in done.stdout.splitlines() if "::" in line]


def backend(node_id: str) -> str | None:
    params = re.search(r"\[(.*)\]$", node_id)
    found = {p for p in (params.group(1).split("-") if params else [])
             if p in ("memory", "sqlite", "postgres")}
    assert len(found) <= 1, node_id
    return found.pop() if found else None


def module(node_id: str) -> str:
    return node_id.split("::")[0].rsplit("/", 1)[-1]


def test_unit_runs_the_unit_modules_in_memory_only():
    unit = collected("-m", "unit")
    assert {module(n) for n in unit} == UNIT_MODULES
    assert {backend(n) for n in unit} == {None, "memory"}
    everything = collected()
    memory = {n for n in everything if backend(n) == "memory"}
    assert memory and {module(n) for n in memory} <= UNIT_MODULES
    # every in-memory case is a unit case, and each has its file and PostgreSQL twins
    assert memory == {n for n in unit if backend(n) == "memory"}
    for node in memory:
        for other in ("sqlite", "postgres"):
            assert re.sub(r"\bmemory\b", other, node) in everything, node
