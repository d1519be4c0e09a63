"""docs/configuration.md is generated from scim_me/config.py; a setting added or changed without
regenerating it fails here, with the command that fixes it."""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path

from scim_me.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def generator():
    spec = importlib.util.spec_from_file_location("generate_configuration", ROOT / "docs" / "generate_configuration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_is_current():
    rendered = generator().render()
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == rendered, "docs/configuration.md is stale: run `make config-docs` and commit it"


def test_every_setting_is_in_the_reference_with_its_variable():
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for spec in fields(Settings):
        assert f"| `{spec.name}`<br>`SCIM_ME_{spec.name.upper()}` |" in committed


def test_descriptions_come_from_the_comments_above_each_field():
    descriptions, sections = generator().comments_by_field(
        "class Settings:\n"
        '    """doc"""\n\n'
        "    # -- Group\n"
        "    # The first\n"
        "    # line pair.\n"
        "    alpha: int = 1\n"
        "    beta: str = ''  # trailing words\n\n"
        "    # stale comment, cut by the blank line\n\n"
        "    gamma: bool = False\n"
    )
    assert descriptions == {"alpha": "The first line pair.", "beta": "trailing words", "gamma": ""}
    assert sections == {"alpha": "Group", "beta": "Group", "gamma": "Group"}
