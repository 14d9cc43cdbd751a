"""The import rules that keep the architecture honest."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "service"
FRAMEWORKS = {"flask", "flask_smorest", "limits", "sqlalchemy", "marshmallow", "alembic",
              "psycopg", "cryptography", "click", "tqdm", "werkzeug", "gunicorn"}


def imports(path: Path, tree: ast.AST | None = None) -> set[str]:
    tree = tree or ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
    return found


def modules(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


def test_the_domain_imports_only_the_standard_library_and_itself():
    for path in modules("domain"):
        for name in imports(path):
            top = name.split(".")[0]
            assert top not in FRAMEWORKS, f"{path.name} imports {name}"
            if top == "service":
                assert name.startswith("service.domain"), f"{path.name} imports {name}"


def test_nothing_but_the_app_factory_imports_the_api():
    for path in PACKAGE.rglob("*.py"):
        if "api" in path.relative_to(PACKAGE).parts or path.name == "app.py":
            continue
        assert not any(n.startswith("service.api") for n in imports(path)), path


def test_inner_layers_never_import_outer_ones():
    for layer in ("eventstore", "projections", "application"):
        for path in modules(layer):
            for name in imports(path):
                outer = name in ("service.app", "service.cli") or name.startswith(
                    ("service.api", "service.app.", "service.cli."))
                assert not outer, f"{path} imports {name}"
    for path in modules("eventstore"):
        assert not any(n.startswith(("service.projections", "service.application"))
                       for n in imports(path)), path


def imported_names(path: Path) -> set[str]:
    """Every module and `module.name` an import statement brings in, relative ones resolved."""
    found = set(imports(path))
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                base = ".".join([*parts, base] if base else parts)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_only_the_event_store_touches_its_tables():
    """Reads and writes of the log go through EventStore; schema.py only registers tables."""
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "eventstore" or rel == Path("schema.py"):
            continue
        assert not any(n.startswith("service.eventstore.tables")
                       for n in imported_names(path)), f"{path} imports the log's tables"


def test_only_config_reads_the_environment():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "config.py":
            continue
        assert "os.environ" not in path.read_text(), f"{path} reads os.environ"


def runtime_imports(path: Path) -> set[str]:
    """Imports outside `if TYPE_CHECKING:` blocks (annotations only, never executed)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    return imports(path, tree)


def test_the_api_neither_composes_nor_opens_transactions():
    """Blueprints call the application; the composition root, the database and the webhook
    package are not theirs (token checks and readiness live in service/application, what a
    subscriber may ask for in service/domain/subscriptions.py)."""
    for path in modules("api"):
        found = runtime_imports(path)
        for banned in ("service.db", "service.bootstrap"):
            assert banned not in found, f"{path} imports {banned}"
        webhooks = [n for n in found if n.startswith("service.webhooks")]
        assert not webhooks, f"{path} imports {webhooks} (the facade comes from the runtime)"
