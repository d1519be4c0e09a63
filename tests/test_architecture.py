"""The PATCH engine and the error types stay pure: no web framework, database, auth or schema library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scim_me"
PURE_MODULES = [*sorted((PACKAGE / "core").glob("*.py")), PACKAGE / "errors.py"]
FORBIDDEN = {"flask", "werkzeug", "peewee", "authlib", "marshmallow", "joserfc", "psycopg2"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
            "__import__",
            "import_module",
        ):
            found.update(
                arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return found


def test_the_pure_modules_exist():
    assert PACKAGE / "core" / "patch.py" in PURE_MODULES
    assert (PACKAGE / "errors.py").is_file()


@pytest.mark.parametrize("path", PURE_MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_pure_modules_import_no_framework(path):
    offending = sorted(name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN)
    assert offending == [], f"{path.relative_to(PACKAGE)} imports {offending}"


def test_the_import_scan_sees_every_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import flask\n"
        "import os, werkzeug.exceptions as wx\n"
        "from peewee import Model\n"
        "from . import sibling\n"
        "def f():\n"
        "    from authlib.jose import jwt\n"
        "    return __import__('psycopg2'), importlib.import_module('joserfc')\n",
        encoding="utf-8",
    )
    found = imported_modules(sample)
    assert {"flask", "werkzeug.exceptions", "peewee", "authlib.jose", "psycopg2", "joserfc"} <= found
    assert "sibling" not in found
