"""Mutation testing of one module: each mutant is run against the tests that cover it.

    python tools/mutate.py service/domain/text.py tests/test_domain.py tests/test_domain_limits.py

One mutation at a time: comparison operators (< <=, > >=, == !=, is / is not, in / not in),
`and` / `or`, a dropped `not`, an integer constant +1 and -1, a `raise` replaced by `pass`, and
a `return X` replaced by `return None`. The repository (service/ and tests/) is copied to a
temporary directory that comes first on the import path, so the working tree is never
touched; the tests run on SQLite only (`-m "not postgres"`), stopping at the first failure.
With `--postgres`, a mutant that survives SQLite is run again with the PostgreSQL cases too
(the server at TEST_POSTGRES_URL, with REQUIRE_POSTGRES=1), for code only PostgreSQL runs.
A mutant that no test kills is a survivor: printed with its line, for a human to judge
whether it is equivalent or a missing test. mutmut cannot be used here because its copies do
not see the editable install.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}


@dataclass(frozen=True)
class Mutant:
    index: int  # n-th site of the walk, so a mutant can be rebuilt from a fresh tree
    variant: int
    line: int
    description: str


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, int, str]]:
    """Every (node, variant, description) the mutator can change, in a stable order."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    yield node, i, f"{type(op).__name__} -> {SWAPS[type(op)].__name__}"
        elif isinstance(node, ast.BoolOp):
            yield node, 0, "and -> or" if isinstance(node.op, ast.And) else "or -> and"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, 0, "not dropped"
        elif (isinstance(node, ast.Constant) and type(node.value) is int):
            yield node, 1, f"{node.value} -> {node.value + 1}"
            yield node, -1, f"{node.value} -> {node.value - 1}"
        elif isinstance(node, ast.Raise):
            yield node, 0, "raise -> pass"
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            yield node, 0, "return X -> return None"


def mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    return [Mutant(n, v, getattr(node, "lineno", 0), d)
            for n, (node, v, d) in enumerate(_sites(tree))]


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, variant: int):
        self.target, self.variant = target, variant

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return self.generic_visit(node)
        if isinstance(node, ast.Compare):
            node.ops[self.variant] = SWAPS[type(node.ops[self.variant])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            return ast.copy_location(ast.Constant(node.value + self.variant), node)
        elif isinstance(node, ast.Raise):
            return ast.copy_location(ast.Pass(), node)
        elif isinstance(node, ast.Return):
            return ast.copy_location(ast.Return(ast.Constant(None)), node)
        return node


def mutated_source(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    target, variant, _ = list(_sites(tree))[mutant.index]
    return ast.unparse(ast.fix_missing_locations(_Apply(target, variant).visit(tree)))


def _run_tests(workdir: Path, tests: list[str], timeout: float, *,
               postgres: bool = False) -> bool:
    """True when the tests pass (the mutant survived)."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    if postgres:
        env["REQUIRE_POSTGRES"] = "1"
    select = [] if postgres else ["-m", "not postgres"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", *select,
           "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    try:
        done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False  # a mutant that hangs is killed by the timeout
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="e.g. service/domain/text.py")
    parser.add_argument("tests", nargs="+", help="the test files or node ids that cover it")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--only-lines", help="e.g. 20-40: mutate only these lines")
    parser.add_argument("--postgres", action="store_true",
                        help="run SQLite's survivors again with the PostgreSQL cases")
    args = parser.parse_args(argv)

    source = (ROOT / args.module).read_text(encoding="utf-8")
    todo = mutants(source)
    if args.only_lines:
        lo, _, hi = args.only_lines.partition("-")
        todo = [m for m in todo if int(lo) <= m.line <= int(hi or lo)]
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        work = Path(tmp)
        for part in ("service", "tests", "seeds", "migrations", "alembic.ini",
                     "pyproject.toml", "README.md"):
            src = ROOT / part
            if src.is_dir():
                shutil.copytree(src, work / part, ignore=shutil.ignore_patterns("__pycache__"))
            elif src.exists():
                shutil.copy2(src, work / part)
        target = work / args.module
        env = dict(os.environ, PYTHONPATH=str(work))
        where = subprocess.run([sys.executable, "-c", "import service; print(service.__file__)"],
                               cwd=work, env=env, capture_output=True, text=True).stdout
        if not where.startswith(str(work)):
            print(f"the copy is not the one imported ({where.strip()})", file=sys.stderr)
            return 2
        if not _run_tests(work, args.tests, args.timeout):
            print("the tests fail without any mutation: fix them first", file=sys.stderr)
            return 2
        survivors = []
        for n, mutant in enumerate(todo, 1):
            target.write_text(mutated_source(source, mutant), encoding="utf-8")
            survived = _run_tests(work, args.tests, args.timeout)
            if survived and args.postgres:
                survived = _run_tests(work, args.tests, args.timeout, postgres=True)
            print(f"[{n}/{len(todo)}] line {mutant.line}: {mutant.description}: "
                  f"{'SURVIVED' if survived else 'killed'}", flush=True)
            if survived:
                survivors.append(mutant)
        target.write_text(source, encoding="utf-8")
    killed = len(todo) - len(survivors)
    score = 100.0 * killed / len(todo) if todo else 100.0
    print(f"\n{args.module}: {killed}/{len(todo)} mutants killed ({score:.0f}%)")
    for m in survivors:
        print(f"  survived: line {m.line}: {m.description}: "
              f"{source.splitlines()[m.line - 1].strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
