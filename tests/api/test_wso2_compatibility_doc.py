"""docs/wso2-compatibility.md cannot go stale: its two lists of operations (WSO2's APIs, scim-me's
own) are exactly the operations of the server's OpenAPI document, which tests/api/test_openapi.py
keeps equal to the app's routes; and no call it lists as not implemented is routed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound

DOC = Path(__file__).resolve().parents[2] / "docs" / "wso2-compatibility.md"
SECTIONS = {
    "wso2": "## WSO2 APIs scim-me implements",
    "own": "## scim-me's own endpoints",
    "missing": "## My Account calls scim-me does not answer",
}
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)` \|")
METHODS = ("get", "post", "put", "patch", "delete")


def _sections() -> dict[str, list[tuple[str, str]]]:
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, list[tuple[str, str]]] = {}
    for key, heading in SECTIONS.items():
        assert heading in text, f"docs/wso2-compatibility.md lost its section {heading!r}"
        body = text.split(heading, 1)[1].split("\n## ", 1)[0]
        found[key] = [match.groups() for line in body.splitlines() if (match := ROW.match(line))]
    return found


@pytest.fixture(scope="module")
def sections() -> dict[str, list[tuple[str, str]]]:
    return _sections()


def _operations(client) -> set[tuple[str, str]]:
    paths = client.get("/api/openapi.json").json["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item if method in METHODS}


def test_the_lists_hold_every_operation_once(client, sections):
    listed = sections["wso2"] + sections["own"]
    assert len(listed) == len(set(listed)), "an operation is listed twice"
    assert sections["missing"], "the My Account calls scim-me does not answer are listed"
    served = _operations(client)
    documented = set(listed)
    assert not served - documented, (
        "routes missing from docs/wso2-compatibility.md (add a row to 'WSO2 APIs scim-me implements' or "
        f"'scim-me's own endpoints'): {sorted(served - documented)}"
    )
    assert not documented - served, f"rows for operations the server does not have: {sorted(documented - served)}"


def test_the_wso2_list_names_the_my_account_families(sections):
    paths = {path for _method, path in sections["wso2"]}
    for expected in (
        "/scim2/Me",
        "/api/server/v1/validation-rules",
        "/api/server/v1/identity-governance/preferences",
        "/api/users/v1/me/applications",
        "/api/users/v1/me/totp",
        "/api/identity/consent-mgt/v1.0/consents",
    ):
        assert expected in paths


def test_nothing_listed_as_not_implemented_is_routed(app, sections):
    adapter = app.url_map.bind("localhost")
    for method, path in sections["missing"]:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        with pytest.raises((NotFound, MethodNotAllowed)):
            adapter.match(concrete, method=method)
    named = " ".join(path for _method, path in sections["missing"])
    for feature in ("challenges", "associations", "typingdna", "approval-tasks", "branding-preference"):
        assert feature in named, feature
