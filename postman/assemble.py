#!/usr/bin/env python3
"""Assemble the Postman collection: postman/base.json plus every postman/folders/*.json.

The committed ``postman/scim-me.postman_collection.json`` is generated, never edited by hand:
``make postman`` (or ``python3 postman/assemble.py``) rewrites it; ``--check`` exits 1 when the
committed file differs from what the sources give (tests/clients/test_postman_collection.py runs
that check). Each feature lands its requests as its own folder file, so features never edit the
same JSON and never conflict on merge.

Order: the base's folders, then the folder files in file-name order (``20-mfa.json`` before
``30-privacy.json``), all inserted before the base's last folder, "Revocation": it revokes the
token the run holds, so it must stay last.

Standard library only, so it runs without the project's virtualenv.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASE = HERE / "base.json"
FOLDERS = HERE / "folders"
OUTPUT = HERE / "scim-me.postman_collection.json"
LAST_FOLDER = "Revocation"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
# NN-name.json: the number orders the folders, the name says which feature owns the file.
FOLDER_FILE = re.compile(r"^\d{2}-[a-z0-9][a-z0-9-]*\.json$")


class AssemblyError(ValueError):
    """A source file is not what the collection needs; the message names the file and the fix."""


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssemblyError(f"{path.name}: not readable JSON ({exc})") from exc


def check_item(item: Any, where: str) -> None:
    """A Postman v2.1 item: a folder (name + item list) or a request (name + request)."""
    if not isinstance(item, dict):
        raise AssemblyError(f"{where}: an item must be a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AssemblyError(f"{where}: every item needs a non-empty name")
    here = f"{where} / {name}"
    if "item" in item:
        children = item["item"]
        if not isinstance(children, list) or not children:
            raise AssemblyError(f"{here}: a folder's item must be a non-empty list")
        for child in children:
            check_item(child, here)
    elif not isinstance(item.get("request"), (dict, str)):
        raise AssemblyError(f"{here}: an item needs either an item list (folder) or a request")


def load_folder(path: Path) -> dict[str, Any]:
    """One folder file: a single top-level folder object ``{"name": ..., "item": [...]}``."""
    if not FOLDER_FILE.match(path.name):
        raise AssemblyError(f"{path.name}: folder files are named NN-feature.json (two digits, lower case)")
    folder = _load(path)
    if not isinstance(folder, dict) or "item" not in folder:
        raise AssemblyError(f"{path.name}: a folder file holds one folder object with a name and an item list")
    check_item(folder, path.name)
    return folder


def folder_files(folders_dir: Path = FOLDERS) -> list[Path]:
    if not folders_dir.is_dir():
        return []
    return sorted(p for p in folders_dir.iterdir() if p.suffix == ".json")


def assemble(base_path: Path = BASE, folders_dir: Path = FOLDERS) -> dict[str, Any]:
    base = _load(base_path)
    if not isinstance(base, dict) or base.get("info", {}).get("schema") != SCHEMA:
        raise AssemblyError(f"{base_path.name}: not a Postman v2.1 collection (info.schema must be {SCHEMA})")
    items = base.get("item")
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
        raise AssemblyError(f"{base_path.name}: the base needs its folders, {LAST_FOLDER!r} last")
    if items[-1].get("name") != LAST_FOLDER:
        raise AssemblyError(f"{base_path.name}: the last folder must be {LAST_FOLDER!r}")
    for item in items:
        check_item(item, base_path.name)
    extra = [load_folder(path) for path in folder_files(folders_dir)]
    collection = dict(base)
    collection["item"] = [*items[:-1], *extra, items[-1]]
    names = [item["name"] for item in collection["item"]]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AssemblyError(f"top-level folder names must be unique; repeated: {', '.join(duplicates)}")
    return collection


def render(collection: dict[str, Any]) -> str:
    return json.dumps(collection, indent="\t", ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed collection is stale")
    args = parser.parse_args(argv)
    try:
        text = render(assemble())
    except AssemblyError as exc:
        print(f"postman/assemble.py: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT.name} is stale: run `make postman` and commit it", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(HERE.parent)} ({len(text)} bytes, {len(assemble()['item'])} folders)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
