"""The shape of the package, held by tests so that it stays as the README's map draws it.

Each rule reads the source (with `ast`), not the running app, so a breach names the file
and line that made it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dashboard"
MODULES = sorted(PACKAGE.rglob("*.py"))
# Longer than this, a module does more than one job (the README's layout).
MAX_LINES = 400


def name_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file (the package imports absolutely only)."""
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}:{node.lineno}: a relative import"
            module = node.module
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def within(path: Path, folder: str) -> bool:
    return path.is_relative_to(PACKAGE / folder)


def test_the_rules_see_the_whole_package():
    """Guards the rules below from passing over an empty list."""
    names = {name_of(path) for path in MODULES}
    assert {"dashboard.transactions", "dashboard.services.inbox.store", "dashboard.web"} <= names
    assert len(MODULES) > 50


def test_every_module_says_what_it_owns():
    missing = [name_of(path) for path in MODULES if not ast.get_docstring(parsed(path))]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_module_is_longer_than_one_job():
    long = {
        name_of(path): lines
        for path in MODULES
        if not within(path, "migrations")
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_only_payments_talks_to_stripe():
    leaks = [
        f"{name_of(path)}:{line}"
        for path in MODULES
        if not within(path, "payments")
        for line, module in imports(path)
        if module == "stripe" or module.startswith("stripe.")
    ]
    assert not leaks, f"stripe imported outside dashboard/payments/: {leaks}"


def test_the_domain_is_pure():
    """No Flask, no database, no Stripe, nothing of the app outside the domain."""
    outside = [
        f"{name_of(path)}:{line} imports {module}"
        for path in MODULES
        if within(path, "domain")
        for line, module in imports(path)
        if module.split(".")[0] in ("flask", "sqlalchemy", "stripe", "flask_sqlalchemy")
        or (module.startswith("dashboard.") and not module.startswith("dashboard.domain"))
    ]
    assert not outside, outside


@pytest.mark.parametrize(
    ("layer", "may_not_import"),
    [
        ("payments", ("dashboard.services", "dashboard.views", "dashboard.cli")),
        ("services", ("dashboard.views", "dashboard.cli")),
        ("views", ("dashboard.cli",)),
    ],
)
def test_layers_import_only_downwards(layer, may_not_import):
    upward = [
        f"{name_of(path)}:{line} imports {module}"
        for path in MODULES
        if within(path, layer)
        for line, module in imports(path)
        if module.startswith(may_not_import)
    ]
    assert not upward, upward


def blueprint_modules() -> set[str]:
    return {
        name_of(path)
        for path in (PACKAGE / "views").glob("*.py")
        if "Blueprint(" in path.read_text()
    }


def test_no_blueprint_imports_another():
    blueprints = blueprint_modules()
    assert {"dashboard.views.orders", "dashboard.views.payments", "dashboard.views.pay"} <= (
        blueprints
    )
    crossing = [
        f"{name}:{line} imports {module}"
        for name in sorted(blueprints)
        for line, module in imports(PACKAGE / "views" / f"{name.rsplit('.', 1)[1]}.py")
        if module in blueprints - {name}
    ]
    assert not crossing, crossing


def session_commits(path: Path) -> list[int]:
    """Lines that call `….session.commit()` (a database session's commit)."""
    return [
        node.lineno
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "session"
    ]


def test_only_the_transaction_boundaries_commit():
    """Services flush; `dashboard.transactions` is the one module that commits (the end of a
    request, a unit of work, and the money ledger's commit before calling Stripe)."""
    committing = {name_of(path): lines for path in MODULES if (lines := session_commits(path))}
    assert set(committing) == {"dashboard.transactions"}, committing
