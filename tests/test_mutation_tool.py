"""The mutation tool changes exactly one thing per mutant."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "mutate", Path(__file__).resolve().parent.parent / "tools" / "mutate.py")
mutate = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("mutate", mutate)  # dataclasses look their module up
_spec.loader.exec_module(mutate)

SOURCE = '''
def f(a, b):
    if a < b and not a:
        raise ValueError("x")
    return a + 1
'''


def test_every_kind_of_mutation_is_found_once():
    found = [m.description for m in mutate.mutants(SOURCE)]
    assert sorted(found) == sorted([
        "Lt -> LtE", "and -> or", "not dropped", "raise -> pass",
        "return X -> return None", "1 -> 2", "1 -> 0"])


def test_each_mutant_differs_from_the_original_in_one_place():
    original = ast.unparse(ast.parse(SOURCE))
    sources = {mutate.mutated_source(SOURCE, m) for m in mutate.mutants(SOURCE)}
    assert original not in sources
    assert len(sources) == 7
    assert any("if a <= b and" in s for s in sources)
    assert any("return None" in s for s in sources)
    assert any("pass" in s and "raise" not in s for s in sources)
