"""Rate limits shared by every worker: failed log-ins per name and per address, public checks per address.

The arithmetic is the ``limits`` library's (fixed windows: ``"10/15 minutes"``); the counters live in a
``limits`` storage. Redis is not part of this product, so ``SqlStorage`` keeps them in SQL, where every
uvicorn worker sees the same numbers: next to a SQLite database in a file of its own (a counter is
not worth an fsync, nor the main database's write lock), in the ``rate_limits`` table of a PostgreSQL
database (committed with ``synchronous_commit`` off: losing the last second of counters to a crash is
harmless). Any other ``limits`` storage URI (``memory://``, ``redis://…``) can be configured instead.

A log-in name or address is locked once its failures reach the limit, until its window ends (also for
the right password); a success clears the name's counter. Names are counted whether they exist or not,
so a lock-out says nothing about which names are real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from limits import RateLimitItem
from limits import parse as parse_rate
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, Table, case, create_engine, delete, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from kiosk.sqlstore import sqlite_pragmas
from server.models import RateLimit

__all__ = ["Lockout", "SqlStorage", "Throttle", "open_limit_storage"]

_TABLE = cast(Table, RateLimit.__table__)


class SqlStorage(Storage):
    """A ``limits`` storage for fixed windows on SQLite or PostgreSQL (one atomic upsert per hit)."""

    STORAGE_SCHEME = None

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine = engine
        self.clock = clock
        self._insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(_TABLE)
        self._last_sweep = 0.0
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _begin(self, connection: Any) -> None:
        if self.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the key's counter (a new window when the old one has ended); the new count."""
        now = self.clock()
        table = _TABLE
        ended = table.c.expires_at <= now
        stmt = (
            self._insert.values(key=key, hits=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "hits": case((ended, amount), else_=table.c.hits + amount),
                    "expires_at": case((ended, now + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.hits)
        )
        with self.engine.begin() as connection:
            self._begin(connection)
            hits = int(connection.execute(stmt).scalar_one())
        self._sweep(now)
        return hits

    def _row(self, key: str) -> tuple[int, float] | None:
        table = _TABLE
        with self.engine.connect() as connection:
            row = connection.execute(select(table.c.hits, table.c.expires_at).where(table.c.key == key)).first()
        if row is None or row.expires_at <= self.clock():
            return None
        return int(row.hits), float(row.expires_at)

    def get(self, key: str) -> int:
        """The key's count in its current window (0 when there is none)."""
        row = self._row(key)
        return 0 if row is None else row[0]

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (Unix seconds; now when there is none)."""
        row = self._row(key)
        return self.clock() if row is None else row[1]

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        with self.engine.begin() as connection:
            return int(connection.execute(delete(_TABLE)).rowcount)

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with self.engine.begin() as connection:
            self._begin(connection)
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))

    def _sweep(self, now: float) -> None:
        """Drop ended windows (at most once a minute per process), so the table stays small."""
        with self._lock:
            if now - self._last_sweep < 60:
                return
            self._last_sweep = now
        with self.engine.begin() as connection:
            self._begin(connection)
            connection.execute(delete(_TABLE).where(_TABLE.c.expires_at <= now))


def open_limit_storage(uri: str, database_engine: Engine, data_dir: Path) -> Storage:
    """The configured counter storage: ``uri`` if given, else next to the server's database."""
    if uri:
        storage = storage_from_string(uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"{uri}: an asyncio storage cannot count for this server")
        return storage
    if database_engine.dialect.name == "postgresql":
        return SqlStorage(database_engine)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{data_dir / 'limits.db'}", connect_args={"check_same_thread": False, "timeout": 30}
    )
    # WAL without fsync on commit: a counter may be lost to a power cut, never corrupted.
    event.listen(engine, "connect", sqlite_pragmas(busy_timeout_ms=30000))
    event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA synchronous=NORMAL"))
    _TABLE.create(engine, checkfirst=True)
    return SqlStorage(engine)


@dataclass(frozen=True, slots=True)
class Lockout:
    """A refused log-in or check: until when (Unix seconds)."""

    until: float

    def minutes(self, now: float) -> int:
        """Whole minutes left, at least one (for the message)."""
        return max(1, int((self.until - now + 59) // 60))


class Throttle:
    """The server's rate limits over one storage."""

    def __init__(
        self,
        storage: Storage,
        *,
        login_per_user: str,
        login_per_address: str,
        check_per_address: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self.clock = clock
        self.per_user: RateLimitItem = parse_rate(login_per_user)
        self.per_address: RateLimitItem = parse_rate(login_per_address)
        self.per_check: RateLimitItem = parse_rate(check_per_address)

    def _locked(self, item: RateLimitItem, *identifiers: str) -> Lockout | None:
        if self.limiter.test(item, *identifiers):
            return None
        return Lockout(self.limiter.get_window_stats(item, *identifiers).reset_time)

    def login_locked(self, name: str, address: str) -> Lockout | None:
        """Whether log-ins as ``name`` or from ``address`` are locked now."""
        return self._locked(self.per_user, "login-user", name.casefold()) or self._locked(
            self.per_address, "login-address", address
        )

    def login_failed(self, name: str, address: str) -> None:
        """Count a failed log-in against the name and the address."""
        self.limiter.hit(self.per_user, "login-user", name.casefold())
        self.limiter.hit(self.per_address, "login-address", address)

    def login_refused(self, address: str) -> None:
        """Count an attempt made while locked out against the address (it keeps trying: it is hostile)."""
        self.limiter.hit(self.per_address, "login-address", address)

    def login_succeeded(self, name: str) -> None:
        """A right password clears the name's failures (the address keeps its count)."""
        self.limiter.clear(self.per_user, "login-user", name.casefold())

    def check_allowed(self, address: str) -> Lockout | None:
        """Count one public check from ``address``; a ``Lockout`` when over the limit."""
        if self.limiter.hit(self.per_check, "check", address):
            return None
        return Lockout(self.limiter.get_window_stats(self.per_check, "check", address).reset_time)
