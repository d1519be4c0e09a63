"""The production argon2id profile under concurrent sign-ins (security.md T-PW-8, T-PERF-2): with
8 password checks at once in one process, the hashing turns (``password_hash_concurrency``,
2) keep the memory they take to about two hashes' 64 MiB; without them, as a threaded worker
would, it is eight. Peak resident memory of a fresh process, not time: nothing here depends on
the machine's speed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

MIB = 1024 * 1024
HASH = 64 * MIB  # argon2_memory_kib's default

SCRIPT = textwrap.dedent(
    """
    import resource, sys, threading
    from scim_me.config import Settings
    from scim_me.core.passwords import hash_password, verify_password

    concurrency, checks = int(sys.argv[1]), int(sys.argv[2])
    environ = {"SCIM_ME_CONFIG": "", "SCIM_ME_PASSWORD_HASH_CONCURRENCY": str(concurrency)}
    params = Settings.load(environ=environ).hash_params()
    stored = hash_password("correct-horse-9", params)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = threading.Barrier(checks)
    results = []

    def check():
        start.wait()
        results.append(verify_password("correct-horse-9", stored, params))

    threads = [threading.Thread(target=check) for _ in range(checks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert results == [True] * checks, results
    print(before * 1024, after * 1024)  # ru_maxrss is in KiB on Linux
    """
)


def _peak_growth(concurrency: int, checks: int = 8) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(concurrency), str(checks)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    before, after = (int(word) for word in out.split())
    return after - before


def test_eight_sign_ins_at_once_take_two_hashes_of_memory_not_eight():
    # One hash's memory was already touched by the stored hash, so the first turn's may not show.
    assert _peak_growth(2) < 2.5 * HASH
    # Without the turns the same checks need more: the limit above can fail. How many overlap
    # depends on the machine's other load (7 of 8 measured idle, 4 of 8 in a busy full run): 16
    # checks at once, against the limit above, keep a wide margin either way.
    assert _peak_growth(16, checks=16) > 2.5 * HASH
