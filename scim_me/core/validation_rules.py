"""The password and username rules a tenant enforces, written in WSO2's input-validation shape
(``GET /api/server/v1/validation-rules``, wso2/identity-api-server ``inputValidation.yaml``):
``[{"field": "password", "rules": [{"validator": ..., "properties": [{"key", "value"}]}]}, ...]``,
every value a string.

Generated from the same :class:`PasswordPolicy` that ``core.password_policy.check_new_password``
enforces, so a UI that reads them shows exactly what the server checks. The WSO2 validator
names and property keys are the ones My Account reads (identity-apps
``apps/myaccount/src/api/validation.ts``): ``LengthValidator`` (``min.length``, ``max.length``),
``NumeralValidator`` / ``UpperCaseValidator`` / ``LowerCaseValidator`` /
``SpecialCharacterValidator`` (``min.length``), ``UniqueCharacterValidator``
(``min.unique.character``), ``RepeatedCharacterValidator`` (``max.consecutive.character``),
``AlphanumericValidator`` (``enable.validator``). A character-class rule that is off is left
out, as WSO2 leaves out a validator that is not configured (My Account reads a missing one as 0).

scim-me's own rules that WSO2 has no validator for are listed under names of their own, which
WSO2 clients ignore (docs/wso2-compatibility.md): ``CommonPasswordValidator`` (the blocklist),
``ContextWordsValidator`` (no username or e-mail address inside the password) and
``PrecisUsernameValidator`` (RFC 8265 UsernameCaseMapped). Lengths count code points after NFKC,
as the policy does; the history and age rules are not about the string and are answered by the
identity-governance preferences instead.
"""

from __future__ import annotations

from typing import Any

from scim_me.core.password_policy import MIN_CONTEXT_WORD
from scim_me.core.password_policy import PasswordPolicy

FIELDS = ("password", "username")


def _rule(validator: str, **properties: object) -> dict[str, Any]:
    return {
        "validator": validator,
        "properties": [{"key": key.replace("_", "."), "value": _text(value)} for key, value in properties.items()],
    }


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def password_rules(policy: PasswordPolicy) -> dict[str, Any]:
    """The ``password`` field: every rule ``check_new_password`` applies to the string itself."""
    rules = [_rule("LengthValidator", min_length=policy.min_length, max_length=policy.max_length)]
    for validator, count in (
        ("NumeralValidator", policy.min_digits),
        ("UpperCaseValidator", policy.min_upper),
        ("LowerCaseValidator", policy.min_lower),
        ("SpecialCharacterValidator", policy.min_special),
    ):
        if count:
            rules.append(_rule(validator, min_length=count))
    if policy.min_unique:
        rules.append(_rule("UniqueCharacterValidator", min_unique_character=policy.min_unique))
    if policy.max_repeated:
        rules.append(_rule("RepeatedCharacterValidator", max_consecutive_character=policy.max_repeated))
    if policy.blocklist:
        rules.append(_rule("CommonPasswordValidator", enable_validator=True))
    if policy.context_words:
        rules.append(_rule("ContextWordsValidator", enable_validator=True, min_word_length=MIN_CONTEXT_WORD))
    return {"field": "password", "rules": rules}


def username_rules(max_length: int) -> dict[str, Any]:
    """The ``username`` field: any non-empty name the PRECIS profile accepts, up to ``max_length``
    code points (``core/usernames.py``, ``storage/users.USER_NAME_LENGTH``); letters and digits
    only is not required, and neither is an e-mail address."""
    return {
        "field": "username",
        "rules": [
            _rule("LengthValidator", min_length=1, max_length=max_length),
            _rule("AlphanumericValidator", enable_validator=False),
            _rule("PrecisUsernameValidator", enable_validator=True, profile="UsernameCaseMapped"),
        ],
    }


def validation_rules(policy: PasswordPolicy, user_name_max_length: int) -> list[dict[str, Any]]:
    """Both fields, in WSO2's order (password, then username)."""
    return [password_rules(policy), username_rules(user_name_max_length)]
