"""Key rotation: re-seal every sealed value under the key file's first key, a batch per transaction.

``osago-server keys add`` puts a new key first in the file (running servers notice within seconds and
seal new rows with it); ``keys rotate`` then re-seals the rows still under an older key. A row's key
id is the prefix of its stored text, so what is left is found in SQL: an interrupted rotation, run
again, goes on where it stopped, and a value never exists under no key. ``keys prune`` finally drops
from the file the keys that no row uses any more.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Text, and_, column, func, or_, select, table, update
from sqlalchemy.sql.expression import TableClause

from server.db import Database
from server.keys import Keyring

__all__ = ["SEALED_COLUMNS", "SealedColumns", "keys_in_use", "left_to_rotate", "rotate"]


@dataclass(frozen=True, slots=True)
class SealedColumns:
    """A table's sealed columns and its primary key."""

    table: str
    key: str
    columns: tuple[str, ...]


#: every sealed value the server stores (a new sealed column must be listed here)
SEALED_COLUMNS = (
    SealedColumns("server_secrets", "name", ("value",)),
    SealedColumns("kiosks", "id", ("secret",)),
    SealedColumns("policies", "id", ("vehicle", "policyholder", "owner", "drivers", "extra")),
    SealedColumns("applications", "number", ("data",)),
    SealedColumns("events", "event_id", ("personal",)),
)


@functools.cache
def _table(spec: SealedColumns) -> TableClause:
    return table(spec.table, column(spec.key), *(column(c, Text) for c in spec.columns))


def _stale(spec: SealedColumns, keyring: Keyring) -> ColumnElement[bool]:
    t = _table(spec)
    prefix = keyring.primary_id + ":%"
    return or_(*(and_(t.c[c].is_not(None), ~t.c[c].like(prefix)) for c in spec.columns))


def left_to_rotate(database: Database, keyring: Keyring) -> int:
    """How many rows still hold a value sealed under an older key."""
    total = 0
    with database.engine.connect() as connection:
        for spec in SEALED_COLUMNS:
            query = select(func.count()).select_from(_table(spec)).where(_stale(spec, keyring))
            total += int(connection.execute(query).scalar_one())
    return total


def rotate(
    database: Database, keyring: Keyring, *, batch: int = 500, progress: Callable[[int], object] | None = None
) -> int:
    """Re-seal every row under the first key (commits each batch); the number of rows changed."""
    changed = 0
    for spec in SEALED_COLUMNS:
        t = _table(spec)
        last = None
        while True:
            query = select(t).where(_stale(spec, keyring)).order_by(t.c[spec.key]).limit(batch)
            if last is not None:
                query = query.where(t.c[spec.key] > last)
            with database.engine.begin() as connection:
                rows = connection.execute(query).all()
                for row in rows:
                    old = dict(zip(spec.columns, row[1:], strict=True))
                    new = {name: keyring.reseal(value) for name, value in old.items() if value is not None}
                    # Only if nobody rewrote the row meanwhile (a live server's own update wins; it sealed anew).
                    guard = [t.c[name] == value for name, value in old.items() if value is not None]
                    connection.execute(update(t).where(t.c[spec.key] == row[0], *guard).values(**new))
            if not rows:
                break
            last = rows[-1][0]
            changed += len(rows)
            if progress is not None:
                progress(len(rows))
    return changed


def keys_in_use(database: Database) -> Counter[str]:
    """How many stored values each key id seals."""
    used: Counter[str] = Counter()
    with database.engine.connect() as connection:
        for spec in SEALED_COLUMNS:
            t = _table(spec)
            for name in spec.columns:
                prefix = func.substr(t.c[name], 1, 8)
                query = select(prefix, func.count()).where(t.c[name].is_not(None)).group_by(prefix)
                for kid, count in connection.execute(query):
                    used[str(kid)] += int(count)
    return used
