"""The Postman collection's sources: the committed collection is exactly what ``make postman``
assembles from postman/base.json and postman/folders/*.json, every folder file is a valid folder,
Revocation runs last, every request asserts something, and every ``{{variable}}`` is defined.

No server needed; the live run is test_postman_newman.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.clients.support import COLLECTION
from tests.clients.support import ENVIRONMENT
from tests.clients.support import PM_TEST
from tests.clients.support import POSTMAN_DIR
from tests.clients.support import assembler
from tests.clients.support import requests_of
from tests.clients.support import scripts_of
from tests.clients.support import walk_items

pytestmark = pytest.mark.clients

VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")
SET_VARIABLE = re.compile(r"pm\.(?:environment|collectionVariables|variables|globals)\.set\(\s*[\"']([^\"']+)[\"']")
REQUIRED_ENV = ("base_url", "tenant_path", "client_id", "client_secret", "username", "password", "scope")
SECRET_ENV = ("client_secret", "password", "access_token", "refresh_token")


def _collection() -> dict[str, Any]:
    return json.loads(COLLECTION.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _environment() -> dict[str, Any]:
    return json.loads(ENVIRONMENT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_committed_collection_is_the_assembled_one() -> None:
    module = assembler()
    expected = module.render(module.assemble())
    assert COLLECTION.read_text(encoding="utf-8") == expected, "run `make postman` and commit the collection"


def test_every_folder_file_is_a_named_folder_with_items() -> None:
    module = assembler()
    files = module.folder_files()
    names = []
    for path in files:
        folder = module.load_folder(path)  # raises AssemblyError naming the file and the fix
        assert isinstance(folder["name"], str) and folder["name"].strip(), path.name
        assert isinstance(folder["item"], list) and folder["item"], path.name
        assert requests_of(folder), f"{path.name} has no request"
        names.append(folder["name"])
    assert len(names) == len(set(names)), f"folder names repeat: {names}"
    assert [p.name for p in files] == sorted(p.name for p in files)


def test_feature_folders_sit_between_the_core_folders_and_revocation() -> None:
    module = assembler()
    base = json.loads((POSTMAN_DIR / "base.json").read_text(encoding="utf-8"))
    folders = [module.load_folder(path)["name"] for path in module.folder_files()]
    names = [item["name"] for item in _collection()["item"]]
    core = [item["name"] for item in base["item"]]
    assert names == [*core[:-1], *folders, "Revocation"]
    assert names[:4] == ["Discovery", "Token", "SCIM Me", "Errors"]


def test_every_request_has_its_own_assertions() -> None:
    missing = []
    for item in requests_of(_collection()):
        tests = [s for e, s in zip(item.get("event", []), scripts_of(item), strict=True) if e["listen"] == "test"]
        if not any(PM_TEST.search(text) for text in tests):
            missing.append(item["name"])
    assert not missing, f"requests without a pm.test of their own: {missing}"


def test_every_variable_is_defined_by_the_environment_the_collection_or_a_script() -> None:
    collection = _collection()
    text = COLLECTION.read_text(encoding="utf-8")
    used = {name for name in VARIABLE.findall(text) if not name.startswith("$")}  # $guid etc. are Postman's own
    defined = {value["key"] for value in _environment()["values"]}
    defined |= {variable["key"] for variable in collection.get("variable", [])}
    for node in [collection, *walk_items(collection["item"])]:
        for script in scripts_of(node):
            defined |= set(SET_VARIABLE.findall(script))
    assert used <= defined, f"undefined variables: {sorted(used - defined)}"


def test_environment_file_is_importable_and_carries_no_secret() -> None:
    environment = _environment()
    assert environment["_postman_variable_scope"] == "environment"
    keys = [value["key"] for value in environment["values"]]
    assert not [k for k, n in Counter(keys).items() if n > 1], keys
    assert set(REQUIRED_ENV) <= set(keys)
    values = {value["key"]: value for value in environment["values"]}
    for key in SECRET_ENV:
        assert values[key]["type"] == "secret", f"{key} must be a secret variable (masked in Postman)"
    # client credentials come from `make run` / `scim-me client create`: none is committed.
    assert values["client_id"]["value"] == "" and values["client_secret"]["value"] == ""
    assert values["access_token"]["value"] == "" and values["refresh_token"]["value"] == ""


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_assembler_refuses_malformed_sources(tmp_path: Path) -> None:
    module = assembler()
    base = json.loads((POSTMAN_DIR / "base.json").read_text(encoding="utf-8"))
    folders = tmp_path / "folders"
    folders.mkdir()
    base_path = _write(tmp_path / "base.json", base)

    ok = {"name": "Feature", "item": [{"name": "GET Me", "request": {"method": "GET", "url": "{{base_url}}"}}]}
    _write(folders / "20-feature.json", ok)
    assembled = module.assemble(base_path, folders)
    assert [item["name"] for item in assembled["item"]][-2:] == ["Feature", "Revocation"]

    for bad_name, bad, message in [
        ("30-noitems.json", {"name": "No items"}, "item list"),
        ("30-empty.json", {"name": "Empty", "item": []}, "non-empty list"),
        ("30-unnamed.json", {"item": ok["item"]}, "non-empty name"),
        ("30-norequest.json", {"name": "X", "item": [{"name": "no request"}]}, "request"),
        ("Feature.json", ok, "NN-feature.json"),
        ("30-dup.json", ok, "unique"),
    ]:
        path = _write(folders / bad_name, bad)
        with pytest.raises(module.AssemblyError, match=re.escape(message)):
            module.assemble(base_path, folders)
        path.unlink()

    base["item"] = base["item"][::-1]
    with pytest.raises(module.AssemblyError, match="Revocation"):
        module.assemble(_write(tmp_path / "base.json", base), folders)
