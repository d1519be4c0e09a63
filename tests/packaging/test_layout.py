"""setup.cfg lists the packages by name (the schema files ship as ``scim_me.bundled_schemas``
from the top-level schemas/ folder, which ``find:`` cannot map): every package under scim_me/ must
be listed, or the wheel silently leaves it out."""

from __future__ import annotations

import configparser
from importlib import resources
from pathlib import Path

from scim_me.config import BUNDLED_SCHEMAS
from scim_me.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def listed_packages() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}


def test_every_package_under_scim_me_is_listed_in_setup_cfg():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "scim_me").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(found - listed_packages())
    assert missing == [], f"add {missing} to [options] packages in setup.cfg, or the wheel leaves them out"
    assert BUNDLED_SCHEMAS in listed_packages()


def test_the_shipped_schemas_are_read_through_importlib_resources():
    source = Settings.load({"schemas_dir": ""}, environ={"SCIM_ME_CONFIG": ""}).schema_source()
    assert source == resources.files(BUNDLED_SCHEMAS)
    # The editable install maps the package onto the top-level folder itself, not a copy.
    assert Path(str(source / "core-user.json")).resolve() == (ROOT / "schemas" / "core-user.json").resolve()


def test_an_operator_folder_replaces_the_shipped_schemas(tmp_path):
    settings = Settings.load({"schemas_dir": str(tmp_path)}, environ={"SCIM_ME_CONFIG": ""})
    assert settings.schema_source() == tmp_path
    assert settings.custom_schema_source() == tmp_path / "custom"
