"""storage/prepared.py: a statement text seen a second time on a PostgreSQL connection is
prepared there and executed by name, with the same results as sending it; one seen once is sent
as is; a connection keeps at most LIMIT; what cannot be prepared is sent as is; SQLite sends all."""

from __future__ import annotations

from typing import Any

import pytest

from scim_me.storage import prepared
from scim_me.storage.db import is_sqlite
from scim_me.storage.tenants import create_tenant


class Sent:
    """The statements the database is sent (every kind, PREPARE and DEALLOCATE included)."""

    def __init__(self, db: Any) -> None:
        self.texts: list[str] = []
        real = db.execute_sql

        def record(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.texts.append(sql.split(" ", 1)[0].upper())
            return real(sql, params, *args, **kwargs)

        db.execute_sql = record


@pytest.fixture
def sent(db: Any) -> Any:
    recorder = Sent(db)
    yield recorder
    del db.execute_sql


def _names(db: Any) -> str:
    return "SELECT name FROM tenants WHERE id >= {p} AND name <> {p} ORDER BY id".replace("{p}", db.param)


def test_a_recurring_text_is_prepared_once_then_executed(db: Any, sent: Any) -> None:
    for name in ("a", "b", "c"):
        create_tenant(name)
    sent.texts.clear()
    results = [[row[0] for row in prepared.execute(_names(db), [0, skip]).fetchall()] for skip in "abcab" * 2]
    assert results == [["b", "c"], ["a", "c"], ["a", "b"], ["b", "c"], ["a", "c"]] * 2
    if is_sqlite(db):
        assert sent.texts == ["SELECT"] * 10
    else:
        assert sent.texts == ["SELECT", "PREPARE"] + ["EXECUTE"] * 9


@pytest.mark.postgres
def test_a_connection_keeps_at_most_limit_statements(db: Any, sent: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(prepared, "LIMIT", 2)
    texts = [f"SELECT {n} + {db.param}" for n in range(3)]
    for number, text in enumerate(texts):  # each seen twice: prepared on the second sighting
        assert [prepared.execute(text, [1]).fetchone()[0] for _ in range(2)] == [number + 1] * 2
    assert sent.texts == ["SELECT", "PREPARE", "EXECUTE"] * 2 + ["DEALLOCATE", "SELECT", "PREPARE", "EXECUTE"]
    assert prepared.execute(texts[2], [1]).fetchone()[0] == 3  # the last prepared is still there


@pytest.mark.postgres
def test_what_cannot_be_prepared_is_sent_as_is(db: Any, sent: Any) -> None:
    text = f"SELECT {db.param} IS NULL"  # PostgreSQL cannot infer the parameter's type
    assert [prepared.execute(text, [None]).fetchone()[0] for _ in range(3)] == [True, True, True]
    assert sent.texts.count("EXECUTE") == 0


@pytest.mark.postgres
def test_inside_a_transaction_nothing_is_prepared(db: Any, sent: Any) -> None:
    with db.atomic():
        for _ in range(3):
            assert prepared.execute(f"SELECT 1 + {db.param}", [1]).fetchone()[0] == 2
    assert "PREPARE" not in sent.texts


@pytest.mark.postgres
def test_inside_a_transaction_a_text_already_prepared_is_executed(db: Any, sent: Any) -> None:
    text = f"SELECT 2 + {db.param}"
    assert [prepared.execute(text, [1], recurring=True).fetchone()[0] for _ in range(2)] == [3, 3]
    sent.texts.clear()
    with db.atomic():
        assert prepared.execute(text, [2]).fetchone()[0] == 4
        assert prepared.execute(f"SELECT 3 + {db.param}", [2], recurring=True).fetchone()[0] == 5
    # The prepared text runs by name; a new one is sent as it is, not prepared in the transaction.
    assert sent.texts == ["EXECUTE", "SELECT"], sent.texts
