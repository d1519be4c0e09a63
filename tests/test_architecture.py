"""The layering is a test, not a convention.

Packages form a stack: each may import our modules only from packages strictly below it (never
sideways, never up), and a few third-party libraries are confined to the layer that owns them.
The pure core and the error types import no web framework, database, auth or schema library.
Blueprints (``scim_me/api``) import plumbing and services, never each other.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scim_me"

# Rank of each top-level unit under scim_me; the composition root (scim_me/__init__.py) is above all.
LAYERS: dict[str, int] = {
    "errors": 0,
    "core": 1,
    "config": 2,
    "crypto": 2,
    "tenancy": 2,
    "postman_environment": 2,  # the demo seed's Postman environment file (standard library only)
    "storage": 3,
    "auth": 4,
    "notify": 4,
    "web": 5,  # request plumbing: app state, guards, negotiation, CORS, error rendering, bodies
    "oauth": 6,
    "services": 6,  # request-scoped feature logic shared by several blueprints
    "api": 7,  # one blueprint per API family
    "cli": 7,
    "gunicorn_conf": 7,  # gunicorn's server hooks (metrics files), beside the CLI
    "openapi": 8,  # the contract: documents every blueprint's routes, reads their request schemas
    "__init__": 9,
}
PURE = {"errors", "core"}
FRAMEWORKS = {"flask", "werkzeug", "peewee", "playhouse", "authlib", "marshmallow", "joserfc", "psycopg2"}
# Third-party libraries and the only units allowed to import them.
CONFINED: dict[str, set[str]] = {
    "peewee": {"storage"},
    "playhouse": {"storage"},
    "psycopg2": {"storage"},
    "flask": {"web", "oauth", "services", "api", "notify", "openapi", "__init__"},
    "werkzeug": {"web", "oauth", "services", "api", "__init__"},
    "authlib": {"web", "oauth", "api"},
    "marshmallow": {"web", "api"},
}


def unit_of(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def module_name(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse_source(path: Path) -> ast.Module:
    """``ast.parse`` on a thread of its own. CPython 3.11.7's AST builder checks the thread's
    recursion depth before and after building ("AST constructor recursion depth mismatch", a
    bug fixed in later 3.11 releases): in an xdist worker that earlier ran a deep-nesting test
    (RecursionError caught), it raises SystemError. A fresh thread starts at depth zero."""
    result: list[ast.Module] = []
    worker = threading.Thread(
        target=lambda: result.append(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    )
    worker.start()
    worker.join()
    if not result:
        raise AssertionError(f"{path} did not parse")
    return result[0]


def imported_modules(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING blocks too);
    relative imports are resolved against the file's package."""
    found: set[str] = set()
    package = module_name(path, package_dir).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(parse_source(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            if base.split(".")[0] == "scim_me":
                # `from scim_me.api import export` may import the module scim_me.api.export
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
            "__import__",
            "import_module",
        ):
            found.update(
                arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return found


def violations(path: Path, package: Path = PACKAGE) -> list[str]:
    unit = unit_of(path, package)
    rank = LAYERS[unit]
    own = module_name(path, package)
    problems = []
    for name in sorted(imported_modules(path, package)):
        parts = name.split(".")
        if parts[0] == "scim_me":
            if len(parts) == 1:
                continue  # the package itself (only __version__ lives there)
            target = parts[1]
            if target == unit:
                if unit == "api" and len(parts) > 2 and name != own:
                    problems.append(f"{name}: a blueprint imports another blueprint")
                continue
            if target not in LAYERS:
                problems.append(f"{name}: {target!r} has no layer in tests/test_architecture.py")
            elif LAYERS[target] >= rank:
                kind = "sideways" if LAYERS[target] == rank else "upward"
                problems.append(f"{name}: {kind} import from {unit} (layer {rank}) to {target} ({LAYERS[target]})")
        elif unit in PURE and parts[0] in FRAMEWORKS:
            problems.append(f"{name}: the pure {unit} imports a framework")
        elif parts[0] in CONFINED and unit not in CONFINED[parts[0]]:
            problems.append(f"{name}: only {sorted(CONFINED[parts[0]])} may import {parts[0]}")
    return problems


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer():
    assert {unit_of(path) for path in SOURCES} <= set(LAYERS)
    assert PACKAGE / "core" / "patch.py" in SOURCES and PACKAGE / "errors.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_follow_the_layers(path):
    assert violations(path) == []


def scratch(root: Path, relative: str, source: str) -> Path:
    """A file placed in a scratch copy of the package layout, so its unit is computed as for real."""
    target = root / "scim_me" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("storage/x.py", "from scim_me.web.context import state\n", "upward import from storage"),
        ("storage/x.py", "def f():\n    from scim_me.api import scim_me\n", "upward import from storage"),
        ("auth/x.py", "from scim_me.notify.mail import Mail\n", "sideways import from auth"),
        ("oauth/x.py", "from scim_me.services.user_view import represent\n", "sideways import from oauth"),
        ("oauth/x.py", "from scim_me.api.signin import bp\n", "upward import from oauth"),
        ("api/x.py", "from scim_me.api.security import iso\n", "a blueprint imports another blueprint"),
        ("api/x.py", "from . import export\n", "a blueprint imports another blueprint"),
        ("core/x.py", "import flask\n", "the pure core imports a framework"),
        ("core/x.py", "from scim_me.storage.db import now\n", "upward import from core"),
        ("web/x.py", "from peewee import fn\n", "only ['storage'] may import peewee"),
        ("errors.py", "from scim_me.core import patch\n", "upward import from errors"),
        ("web/x.py", "from scim_me.gadgets import y\n", "has no layer"),
    ],
)
def test_a_bad_import_is_caught(tmp_path, relative, source, expected):
    problems = violations(scratch(tmp_path, relative, source), tmp_path / "scim_me")
    assert any(expected in problem for problem in problems), problems


def test_allowed_imports_pass(tmp_path):
    source = (
        "from scim_me.errors import ScimError\n"
        "from scim_me.storage.users import get_user\n"
        "from scim_me.web.guards import authenticate\n"
        "from scim_me.services.user_view import represent\n"
        "from flask import Blueprint\n"
    )
    assert violations(scratch(tmp_path, "api/x.py", source), tmp_path / "scim_me") == []


def test_the_import_scan_sees_every_form(tmp_path):
    sample = tmp_path / "scim_me" / "core" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "import flask\n"
        "import os, werkzeug.exceptions as wx\n"
        "from peewee import Model\n"
        "from . import sibling\n"
        "from ..storage import db\n"
        "def f():\n"
        "    from authlib.jose import jwt\n"
        "    return __import__('psycopg2'), importlib.import_module('joserfc')\n",
        encoding="utf-8",
    )
    found = imported_modules(sample, tmp_path / "scim_me")
    assert {"flask", "werkzeug.exceptions", "peewee", "authlib.jose", "psycopg2", "joserfc"} <= found
    assert {"scim_me.core", "scim_me.storage"} <= found
