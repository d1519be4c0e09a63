"""The common-password blocklist (NIST SP 800-63B §5.1.1.2: "passwords obtained from previous
breach corpuses", "commonly-used" values).

The list is the 30,000-entry ``passwords`` frequency list inside the zxcvbn PyPI package (Dropbox's
strength estimator, derived from real leaked-password corpora), read at first use and kept as a
frozenset of NFKC-casefolded entries; 11,611 of them are at least 8 characters long, so the
default length rule does not make the list moot. An operator adds site-specific words
(product names, the company's own) with ``password_blocklist_file`` (one a line).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


@lru_cache(maxsize=4)
def common_passwords(extra_file: str = "") -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = {_fold(word) for word in FREQUENCY_LISTS["passwords"]}
    if extra_file:
        for line in Path(extra_file).read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.add(_fold(line.strip()))
    return frozenset(words)
