"""Which strings may become a userName: RFC 8265 §3.3 (PRECIS UsernameCaseMapped profile),
enforced by precis-i18n, a maintained implementation of the PRECIS framework (RFC 8264) with its
Unicode property tables, rather than hand-written character rules.

The profile refuses spaces (so ``"kim "`` and ``" kim"`` cannot sit next to ``kim``), controls,
zero-width and other ignorable code points, and unassigned code points; width and case are
mapped, so a fullwidth ``k`` or ``KIM`` names the same user as ``kim``. Checked when a user is created;
existing names are left alone (sign-in compares by the stored key as before).
"""

from __future__ import annotations

import unicodedata

import precis_i18n

from scim_me.errors import InvalidValueError

_PROFILE = precis_i18n.get_profile("UsernameCaseMapped")


def check_user_name(user_name: str) -> None:
    """Raise :class:`InvalidValueError` (400 ``invalidValue``) for a name the profile refuses."""
    try:
        _PROFILE.enforce(user_name)
    except UnicodeEncodeError as exc:
        position = exc.start
        reason = str(exc.reason).split("/")[-1].replace("_", " ")
        raise InvalidValueError(
            f"userName must be a valid username (RFC 8265 UsernameCaseMapped): "
            f"character {position + 1} is not allowed ({reason})."
        ) from exc
    except ValueError as exc:
        raise InvalidValueError("userName must be a valid username (RFC 8265 UsernameCaseMapped).") from exc


def skeleton(user_name: str) -> str | None:
    """The look-alike key of a name: its PRECIS form (width and case mapped), decomposed, with
    the combining marks dropped (``kiṁ`` and ``kim`` share ``kim``), then NFKC + casefold. Two
    users of a tenant may not share one. None for a name the profile refuses (older rows)."""
    try:
        enforced = _PROFILE.enforce(user_name)
    except ValueError:  # UnicodeEncodeError included
        return None
    bare = "".join(c for c in unicodedata.normalize("NFD", enforced) if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare).casefold()[:255]
