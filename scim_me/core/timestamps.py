"""The one wire format for instants: UTC ISO-8601 with milliseconds and ``Z``, as SCIM's
``meta.created`` / ``meta.lastModified`` and WSO2's REST APIs write them. Stored datetimes are
naive UTC."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime) -> str:
    if value.tzinfo is None and value.year >= 1000:
        # The same text, without strftime's format parsing (every /Me body has two of these).
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)
