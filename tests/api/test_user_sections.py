"""The section registry behind the data export and the security overview."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scim_me.web import sections as user_sections


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(user_sections, "_EXPORT", {})
    monkeypatch.setattr(user_sections, "_OVERVIEW", {})
    yield


@pytest.mark.usefixtures("clean_registry")
def test_sections_are_listed_by_name_and_kept_apart() -> None:
    user_sections.register_export_section("zeta", lambda tenant, user: {"t": tenant, "u": user})
    user_sections.register_export_section("alpha", lambda tenant, user: [user])
    user_sections.register_overview_section("mfa", lambda tenant, user: {"totp": False})

    export = user_sections.export_sections()
    assert list(export) == ["alpha", "zeta"]
    assert export["zeta"](3, "u-1") == {"t": 3, "u": "u-1"}
    assert list(user_sections.overview_sections()) == ["mfa"]


@pytest.mark.usefixtures("clean_registry")
def test_registering_a_name_again_replaces_it() -> None:
    # create_app runs once per test; re-importing a feature must not duplicate its section.
    user_sections.register_export_section("mfa", lambda tenant, user: 1)
    user_sections.register_export_section("mfa", lambda tenant, user: 2)
    assert [section(1, "u") for section in user_sections.export_sections().values()] == [2]
