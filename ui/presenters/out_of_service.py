"""The kiosk out of service (the journal guard refused the journal, or the journal stopped recording).

The customer sees «Киоск временно не работает» and that no money is taken; nothing can be bought. The
hidden corner still leads a technician with a verified service card to the PIN pad and to the tiles —
the journal's tile red with the reason and what to do, and, where sensible, its actions: restore a
backup, or start a new empty journal.

How it ends: the screen rechecks the journal every ``[ui] out_of_service_recheck_seconds``; when the
check passes, after a technician restored or started a journal, or after its time is up
(``[ui] out_of_service_minutes``, doubling with every refusal in a row up to
``out_of_service_max_minutes``, counted in systemd's runtime directory), the process exits with code 75
(``kiosk.journal.guard.EXIT_REFUSED``) and systemd starts the kiosk again, which verifies the journal
afresh (and reconciles a restored one). It never exits while a technician's session is open.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.diagnostics import Tile, verdict
from kiosk.journal.guard import JournalGuard, JournalRefusedError
from kiosk.journal.restore import RestoreError, restore_backup, start_new_journal
from kiosk.service_access import PinResult
from kiosk.service_mode import ServiceMode
from ui.presenters.technician import (
    Action,
    ActionResult,
    HealthSchedule,
    PinPad,
    PinView,
    TechnicianClosedError,
    pin_view,
)

__all__ = [
    "CUSTOMER_MESSAGE",
    "CUSTOMER_TITLE",
    "BackupFile",
    "OutOfService",
    "OutOfServiceDesk",
    "Step",
    "backup_files",
    "stay_seconds",
]

log = logging.getLogger(__name__)

CUSTOMER_TITLE = "Киоск временно не работает"
CUSTOMER_MESSAGE = (
    "Приносим извинения: сейчас здесь нельзя оформить полис. Оплата не принимается, деньги не списываются. "
    "Киоск скоро снова заработает; полис можно оформить в офисе страховщика или на его сайте."
)
PHONE_LABEL = "Телефон страховщика:"
#: the file in systemd's runtime directory counting refusals in a row (survives restarts, not reboots)
REFUSALS_FILE = "journal-refusals"


class Step(enum.Enum):
    """What the out-of-service screen does on a tick."""

    WAIT = "wait"
    RECHECK = "recheck"
    EXIT = "exit"


def stay_seconds(minutes: float, max_minutes: float, *, runtime_dir: str | None = None, count: bool = True) -> float:
    """How long this out-of-service screen stays: ``minutes`` doubled for every refusal in a row before
    (the count kept in ``runtime_dir``, normally ``$RUNTIME_DIRECTORY``), at most ``max_minutes``."""
    base = minutes * 60
    if not runtime_dir:
        return base
    counter = Path(runtime_dir) / REFUSALS_FILE
    try:
        before = int(counter.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        before = 0
    if count:
        try:
            counter.write_text(str(before + 1), encoding="ascii")
        except OSError as exc:
            log.warning("refusal count not kept in %s: %s", counter, exc)
    return float(min(max_minutes * 60, base * 2 ** min(before, 16)))


def clear_refusals(runtime_dir: str | None = None) -> None:
    """A start that passed the guard: the next refusal waits the shortest time again."""
    directory = runtime_dir if runtime_dir is not None else os.environ.get("RUNTIME_DIRECTORY")
    if directory:
        try:
            (Path(directory) / REFUSALS_FILE).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("refusal count in %s not cleared: %s", directory, exc)


@dataclass
class OutOfService:
    """The out-of-service screen's state: why, when to look again, when to exit."""

    refusal: JournalRefusedError
    #: the guard's check (None: nothing to recheck, e.g. the journal stopped recording mid-day)
    recheck: Callable[[], JournalRefusedError | None] | None
    stay: float
    recheck_every: float = 30.0
    phone: str = ""
    started: float = field(default_factory=time.monotonic)
    restart_requested: bool = False
    next_check: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_check = self.started + self.recheck_every

    @property
    def title(self) -> str:
        """What the customer reads first."""
        return CUSTOMER_TITLE

    @property
    def message(self) -> str:
        """What the customer reads below it."""
        return CUSTOMER_MESSAGE

    @property
    def phone_line(self) -> str:
        """The insurer's phone, if known (the label is translated, the number is not)."""
        return f"{PHONE_LABEL} {self.phone}" if self.phone else ""

    def tick(self, now: float, *, technician_open: bool) -> Step:
        """Once a second: recheck when due; exit when asked to or when time is up (never under a technician)."""
        if self.restart_requested or now - self.started >= self.stay:
            return Step.WAIT if technician_open else Step.EXIT
        if self.recheck is not None and now >= self.next_check:
            self.next_check = now + self.recheck_every
            return Step.RECHECK
        return Step.WAIT

    def request_restart(self) -> None:
        """A technician restored or started a journal: exit (code 75) once the session is closed."""
        self.restart_requested = True

    def checked(self, result: JournalRefusedError | None) -> None:
        """A recheck's result: passing means a restart now sells; a new reason replaces the old one."""
        if result is None:
            log.warning("journal check passes now: the kiosk restarts to sell")
            self.restart_requested = True
        elif result.code is not self.refusal.code or result.reason != self.refusal.reason:
            log.error("journal still refused [%s]: %s", result.code.value, result.detail)
            self.refusal = result


@dataclass(frozen=True)
class BackupFile:
    """A journal backup the technician may restore."""

    path: Path
    label: str


def backup_files(directories: Sequence[Path], *, limit: int = 20) -> list[BackupFile]:
    """Journal backups (``journal-*.db``, as the technician's backup makes them) in ``directories``, newest first."""
    found: list[tuple[float, Path]] = []
    for directory in directories:
        try:
            found += [(p.stat().st_mtime, p) for p in directory.glob("journal-*.db") if p.is_file()]
        except OSError:
            continue
    found.sort(reverse=True)
    files = []
    for mtime, path in found[:limit]:
        when = dt.datetime.fromtimestamp(mtime, dt.UTC).astimezone()
        files.append(BackupFile(path, f"{path.name} — {when:%d.%m.%Y %H:%M}, {path.parent}"))
    return files


ACTIONS = (
    Action("restore", "Восстановить журнал из резервной копии", "pick"),
    Action("init", "Начать новый пустой журнал", "confirm"),
)
INIT_CONFIRMATION = (
    "Будет начат новый ПУСТОЙ журнал продаж. Нынешний файл журнала не удаляется: он будет сохранён рядом "
    "под другим именем. Перед продажами киоск сверит новый журнал с терминалом оплаты. Продолжить?"
)


@dataclass
class OutOfServiceDesk:
    """The technician's screens while the kiosk is out of service (same verbs as ``TechnicianDesk``)."""

    service_mode: ServiceMode
    zone: dt.tzinfo
    tiles_of: Callable[[], list[Tile]]
    guard: JournalGuard
    backup_dirs: Callable[[], Sequence[Path]] = lambda: ()
    on_restart: Callable[[], None] = lambda: None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    tiles: list[Tile] = field(default_factory=list)
    checked_at: dt.datetime | None = None
    pad: PinPad = field(default_factory=PinPad)
    last_pin: PinResult | None = None
    #: never due: an out-of-service kiosk sends no health reports (it has no journal to queue them in)
    health: HealthSchedule = field(default_factory=lambda: HealthSchedule(float("inf"), float("inf")))

    def actor(self) -> str:
        """The card id of the open session."""
        state = self.service_mode.state
        if not state.is_open or state.card_id is None:
            raise TechnicianClosedError("режим техника закрыт")
        return state.card_id

    def pin_view(self) -> PinView:
        """The PIN screen now."""
        policy = self.service_mode.access.policy
        return pin_view(
            self.service_mode.state,
            now=self.clock(),
            zone=self.zone,
            max_attempts=policy.max_attempts,
            lockout_minutes=policy.lockout.total_seconds() / 60,
            last=self.last_pin,
        )

    def submit_pin(self) -> PinResult:
        """Check the typed PIN (blocking; from a worker)."""
        result = self.service_mode.enter_pin(self.pad.take())
        self.last_pin = result
        return result

    def forget(self) -> None:
        """The session ended: nothing of it stays on screen."""
        self.pad.clear()
        self.last_pin = None
        self.tiles = []
        self.checked_at = None

    def refresh(self) -> list[Tile]:
        """The journal and disk tiles now."""
        self.tiles = self.tiles_of()
        self.checked_at = self.clock()
        return self.tiles

    def verdict(self) -> tuple[bool, str]:
        """The kiosk cannot sell, and why."""
        if not self.tiles:
            return False, ""
        _, reasons = verdict(self.tiles)
        return False, "Продажа невозможна: " + "; ".join(reasons or ["журнал продаж не проверен"])

    def checked_text(self) -> str:
        """When the tiles were checked."""
        return "" if self.checked_at is None else f"Проверено в {self.checked_at.astimezone(self.zone):%H:%M:%S}"

    def tile(self, key: str) -> Tile:
        """The tile called ``key``."""
        for tile in self.tiles:
            if tile.key == key:
                return tile
        raise KeyError(key)

    def actions(self, key: str) -> tuple[Action, ...]:
        """The journal's tile offers restore and init; the disk tile only the recheck."""
        return ACTIONS if key == "database" else ()

    def run(self, key: str, *, on_progress: Callable[[str], object] | None = None) -> ActionResult:
        """``init`` (the only plain action here; restore goes through ``restore``)."""
        if key != "init":
            raise KeyError(key)
        return self.start_new()

    def report_health_if_idle(self) -> bool:
        """No health reports while out of service."""
        return False

    def backups(self) -> list[BackupFile]:
        """The backups the technician may restore (removable media and the backup directory)."""
        return backup_files(self.backup_dirs())

    def restore(self, path: Path) -> ActionResult:
        """Restore ``path`` as the journal (blocking); the kiosk restarts and reconciles it before selling."""
        actor = self.actor()
        try:
            done = restore_backup(self.guard, path, actor=actor)
        except RestoreError as exc:
            return ActionResult("Журнал не восстановлен", (exc.message,), False)
        except OSError as exc:
            return ActionResult("Журнал не восстановлен", (f"{path}: {exc.strerror or exc}",), False)
        self.on_restart()
        lines = [f"Из копии: {path}", f"Продаж в журнале: {done.sales}"]
        if done.set_aside is not None:
            lines.append(f"Прежний файл сохранён как {done.set_aside.name}")
        lines.append("После выхода из режима техника киоск перезапустится, сверит журнал с терминалом и сервером")
        return ActionResult("Журнал восстановлен", tuple(lines))

    def start_new(self) -> ActionResult:
        """Start a new empty journal (blocking, after the technician confirmed)."""
        actor = self.actor()
        try:
            done = start_new_journal(self.guard, actor=actor)
        except OSError as exc:
            return ActionResult("Новый журнал не начат", (str(exc.strerror or exc),), False)
        self.on_restart()
        lines = [f"Новый журнал {done.journal_id[:8]}"]
        if done.set_aside is not None:
            lines.append(f"Прежний файл сохранён как {done.set_aside.name}")
        lines.append("После выхода из режима техника киоск перезапустится и сверит журнал с терминалом")
        return ActionResult("Начат новый журнал", tuple(lines))

    # the normal desk's verbs that have no meaning here
    def flagged(self) -> list[dict[str, object]]:
        """No sale can be resolved without a journal."""
        return []
