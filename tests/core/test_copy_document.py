"""core/values.copy_document: the PATCH engine's working copy (RFC 7644 §3.5.2: "If an error
occurs, the entire request fails and no modifications are applied", so the engine writes to a
copy and the stored resource is never touched)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from scim_me.core.values import copy_document


def test_a_copy_is_equal_and_shares_no_container_with_the_original():
    original = {
        "userName": "kim",
        "name": {"givenName": "Kim", "honorificPrefix": None},
        "emails": [{"value": "kim@example.com", "primary": True}, {"value": "k@home.example"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m-1"}},
        "x": [[1, 2.5], []],
    }
    copied = copy_document(original)
    assert copied == original

    copied["name"]["givenName"] = "Kimberly"
    copied["emails"][0]["primary"] = False
    copied["emails"].append({"value": "new@example.com"})
    copied["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"] = "m-2"
    copied["x"][0].append(3)

    assert original["name"]["givenName"] == "Kim"
    assert original["emails"] == [{"value": "kim@example.com", "primary": True}, {"value": "k@home.example"}]
    assert original["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] == {"value": "m-1"}
    assert original["x"] == [[1, 2.5], []]


def test_values_that_are_not_json_are_deep_copied_too():
    stamp = datetime(2026, 12, 6, tzinfo=UTC)
    original = {"tags": {"a", "b"}, "pair": ("x", ["y"]), "at": stamp}
    copied = copy_document(original)
    assert copied == original
    copied["tags"].add("c")
    copied["pair"][1].append("z")
    assert original["tags"] == {"a", "b"}
    assert original["pair"] == ("x", ["y"])
