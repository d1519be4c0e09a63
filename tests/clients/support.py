"""Helpers for the real-client tests: the pinned newman, the assembled Postman collection."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTMAN_DIR = REPO_ROOT / "postman"
COLLECTION = POSTMAN_DIR / "scim-me.postman_collection.json"
ENVIRONMENT = POSTMAN_DIR / "scim-me.postman_environment.json"
CLIENTS_DIR = Path(__file__).resolve().parent
NODE_MODULES = CLIENTS_DIR / "node_modules"
NEWMAN_BIN = NODE_MODULES / "newman" / "bin" / "newman.js"
MIN_NODE = 20
PM_TEST = re.compile(r"\bpm\.test\s*\(")


def assembler() -> ModuleType:
    """postman/assemble.py, loaded by path: it is a standalone script, not part of the package."""
    spec = importlib.util.spec_from_file_location("postman_assemble", POSTMAN_DIR / "assemble.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pinned_newman() -> str:
    lock = json.loads((CLIENTS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/newman"]["version"])


def find_newman() -> tuple[list[str] | None, list[str]]:
    """``[node, newman.js]`` when node >= 20 and the locked newman are installed; else what is missing."""
    problems: list[str] = []
    node = shutil.which("node")
    if node is None:
        problems.append("no `node` on PATH")
    else:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
        major = re.match(r"v(\d+)\.", version)
        if major is None or int(major.group(1)) < MIN_NODE:
            problems.append(f"node {version.strip() or '?'} is older than v{MIN_NODE}")
    try:
        found = json.loads((NODE_MODULES / "newman" / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        problems.append("newman is not installed in tests/clients/node_modules")
    else:
        if found != pinned_newman():
            problems.append(f"tests/clients/node_modules has newman {found}, the lock pins {pinned_newman()}")
    if node is None or problems:
        return None, problems
    return [node, str(NEWMAN_BIN)], []


def walk_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item of a collection, folders and requests, depth first."""
    found: list[dict[str, Any]] = []
    for item in items:
        found.append(item)
        found.extend(walk_items(item.get("item", [])))
    return found


def requests_of(collection: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in walk_items(collection["item"]) if "request" in item]


def scripts_of(node: dict[str, Any]) -> list[str]:
    """The script texts of one collection/folder/request node's events."""
    texts = []
    for event in node.get("event", []):
        code = event.get("script", {}).get("exec", [])
        texts.append("\n".join(code) if isinstance(code, list) else str(code))
    return texts


def count_pm_tests(collection: dict[str, Any]) -> int:
    """The pm.test calls written anywhere in the collection (each runs at least once per run)."""
    nodes = [collection, *walk_items(collection["item"])]
    return sum(len(PM_TEST.findall(text)) for node in nodes for text in scripts_of(node))
