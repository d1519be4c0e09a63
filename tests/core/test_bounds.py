"""core/bounds.py: caps on a stored profile, checked before anything is written."""

from __future__ import annotations

import json

import pytest

from scim_me.core.bounds import check_stored_size
from scim_me.core.bounds import check_value_counts
from scim_me.errors import InvalidValueError

EXT = "urn:ietf:params:scim:schemas:extension:custom:User"


def test_lists_inside_a_schema_extension_count_too():
    check_value_counts({EXT: {"badges": list(range(3))}}, max_values=3)
    with pytest.raises(InvalidValueError, match=f"^{EXT}:badges has 4 values; at most 3 are accepted.$"):
        check_value_counts({EXT: {"badges": list(range(4))}}, max_values=3)


def test_the_size_is_the_compact_utf8_json():
    profile = {"displayName": "é" * 500}  # 1,000 bytes of UTF-8, 500 characters
    size = len('{"displayName":""}') + 1000
    text = json.dumps(profile, separators=(",", ":"), ensure_ascii=False)
    check_stored_size(text, max_bytes=size)
    with pytest.raises(InvalidValueError, match=f"would take {size} bytes; at most {size - 1} "):
        check_stored_size(text, max_bytes=size - 1)
