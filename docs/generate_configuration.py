"""Writes docs/configuration.md from the settings definition (scim_me/config.py ``Settings``): one
row per field, its description the comment right above it (or at the end of its line), a section
per ``# -- Title`` line. ``make config-docs`` runs it; tests/test_config_docs.py fails when the
committed file differs from what this renders.

    python docs/generate_configuration.py           # rewrite docs/configuration.md
    python docs/generate_configuration.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import ast
import sys
from dataclasses import MISSING
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scim_me import config  # noqa: E402

TARGET = ROOT / "docs" / "configuration.md"
COMMAND = "make config-docs"

HEADER = f"""# Configuration reference

<!-- Generated from scim_me/config.py by docs/generate_configuration.py: run `{COMMAND}`. -->

Every setting has a lower-case TOML key and an upper-case `SCIM_ME_` environment variable.
Precedence: environment variables, then the TOML file named by `SCIM_ME_CONFIG` (default
`instance/scim-me.toml`; an empty `SCIM_ME_CONFIG` reads no file), then the defaults below.
`<instance>` is the checkout's `instance/` folder, or `instance/` in the working directory when
scim-me runs from an installed package.

Mistakes stop the server and the CLI at start-up with one line that names them:

- an unknown key or `SCIM_ME_*` variable, with the nearest valid name
  (`unknown setting bse_url (did you mean base_url?)`); `SCIM_ME_CONFIG` and the test suite's
  `SCIM_ME_TEST_*` / benchmark's `SCIM_ME_BENCH_*` variables are not settings;
- a value of the wrong type (`SCIM_ME_ACCESS_TOKEN_LIFETIME: expected an integer, got 'abc'`);
  a boolean is one of `1/true/yes/on` or `0/false/no/off`, in any case
  (`SCIM_ME_MFA_ALLOW_BASIC: expected true or false, got 'enabled'`): a typo must not turn a
  protection off;
- invalid TOML, with its line and column;
- a file named by `SCIM_ME_CONFIG` that does not exist.

`scim-me config set KEY VALUE` writes one key into the config file (`make run` uses it for
`base_url`, so `scim-me token` mints tokens for the port being served).
"""


def comments_by_field(source: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(description, section)`` of each field of ``class Settings``, from its source comments."""
    lines = source.splitlines()
    tree = ast.parse(source)
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    descriptions: dict[str, str] = {}
    sections: dict[str, str] = {}
    section = ""
    previous_end = cls.body[0].end_lineno or cls.lineno  # the docstring
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            previous_end = node.end_lineno or previous_end
            continue
        name = node.target.id
        above: list[str] = []
        for text in (line.strip() for line in lines[previous_end : node.lineno - 1]):
            if text.startswith("# --"):
                section, above = text.removeprefix("# --").strip(), []
            elif text.startswith("#"):
                above.append(text.removeprefix("#").strip())
            else:
                above = []  # a blank line ends a comment block
        trailing = lines[node.end_lineno - 1].partition("  # ")[2].strip() if node.end_lineno else ""
        descriptions[name] = " ".join([*above, trailing]).strip()
        sections[name] = section
        previous_end = node.end_lineno or node.lineno
    return descriptions, sections


def shown_default(value: object) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    text = str(value).replace(str(config.INSTANCE_DIR), "<instance>")
    return f"`{text}`" if text else "(empty)"


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "int" if isinstance(value, int) else "string"


def render() -> str:
    descriptions, sections = comments_by_field(Path(config.__file__).read_text(encoding="utf-8"))
    missing = [f.name for f in fields(config.Settings) if not descriptions.get(f.name)]
    if missing:
        raise SystemExit(f"settings without a description (a comment above the field in scim_me/config.py): {missing}")
    out = [HEADER.rstrip("\n")]
    current = None
    for spec in fields(config.Settings):
        default = spec.default if spec.default is not MISSING else spec.default_factory()  # type: ignore[misc]
        if sections[spec.name] != current:
            current = sections[spec.name]
            out.append(f"\n## {current}\n\n| Key / variable | Type | Default | Meaning |\n| --- | --- | --- | --- |")
        variable = config.PREFIX + spec.name.upper()
        description = descriptions[spec.name].replace("|", "\\|")
        kind = type_name(default)
        out.append(f"| `{spec.name}`<br>`{variable}` | {kind} | {shown_default(default)} | {description} |")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
