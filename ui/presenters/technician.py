"""The technician's screens without Kivy: who may enter, the PIN pad, the tiles and their actions.

The way in: a service card proves itself to the reader (challenge–response), then the hidden corner
of the attract screen leads to the PIN pad, then to the diagnostics tiles. ``technician_screen`` is
the one gate: it answers None unless the card's MAC was verified — an ``AccessState`` carries a
``card_id`` only then — so a customer without a genuine service card never sees any of these screens.

Every action runs with the card id of the open session as ``actor`` (``TechnicianDesk.actor``); the
``Diagnostics`` actions and ``SaleService.resolve_flagged`` journal it (``JournalEntry``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kiosk.diagnostics import (
    BackupTarget,
    Diagnostics,
    Light,
    ServerNotConfiguredError,
    Tile,
    backup_targets,
    verdict,
)
from kiosk.money import rub
from kiosk.sale.service import SaleError, SaleService
from kiosk.sale.states import SaleState
from kiosk.service_access import AccessState, Phase, PinResult
from kiosk.service_mode import ServiceMode

__all__ = [
    "PIN_SCREEN",
    "TECHNICIAN_SCREENS",
    "Action",
    "ActionResult",
    "HealthSchedule",
    "PinPad",
    "PinView",
    "ResolveForm",
    "TechnicianClosedError",
    "TechnicianDesk",
    "local_time",
    "pin_view",
    "sale_summary",
    "technician_screen",
]

log = logging.getLogger(__name__)

PIN_SCREEN = "technician_pin"
#: every screen of technician mode (touches there keep the service session alive)
TECHNICIAN_SCREENS = frozenset({PIN_SCREEN, "diagnostics", "diagnostics_detail", "diagnostics_resolve"})
#: seconds a refused card's message stays on the PIN screen before the kiosk returns to customers
REFUSED_SECONDS = 20.0


class TechnicianClosedError(PermissionError):
    """An action was asked for without an open service session (the card was pulled meanwhile)."""


def technician_screen(state: AccessState) -> str | None:
    """Where the hidden entry — or a change of the card's state — leads; None means the attract screen.

    Only a card whose answer to the challenge was verified has a ``card_id`` in its state: no card,
    a card being checked, and any card that failed the check lead nowhere.
    """
    if state.card_id is None:
        return None
    if state.phase is Phase.OPEN:
        return "diagnostics"
    if state.phase in (Phase.AWAITING_PIN, Phase.REJECTED):
        return PIN_SCREEN
    return None


# -- the PIN pad -----------------------------------------------------------------------------------
@dataclass
class PinPad:
    """Digits typed so far; shown only as dots."""

    digits: str = ""
    shortest: int = 4
    longest: int = 12

    def press(self, key: str) -> None:
        """A digit key (anything else is ignored; no more than ``longest`` digits)."""
        if len(key) == 1 and key.isdigit() and key.isascii() and len(self.digits) < self.longest:
            self.digits += key

    def backspace(self) -> None:
        """ "Стереть": the last digit."""
        self.digits = self.digits[:-1]

    def clear(self) -> None:
        """Forget every digit."""
        self.digits = ""

    @property
    def masked(self) -> str:
        """One dot per digit (U+2022: in the kiosk's font, unlike the larger black circle)."""
        return " ".join("•" * len(self.digits))

    @property
    def complete(self) -> bool:
        """Long enough to be checked."""
        return len(self.digits) >= self.shortest

    def take(self) -> str:
        """The PIN, and the pad is empty again (the PIN is never kept)."""
        pin, self.digits = self.digits, ""
        return pin


@dataclass(frozen=True)
class PinView:
    """What the PIN screen shows."""

    card: str
    prompt: str
    attempts: str
    message: str
    error: bool
    can_type: bool


def _local(moment: dt.datetime, now: dt.datetime, zone: dt.tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == now.astimezone(zone).date() else f"{local:%d.%m.%Y %H:%M}"


_CLOSED = {
    "unknown_card": "Эта карта не допущена на этом киоске. Выньте карту.",
    "store_error": "Не удалось проверить счётчик попыток PIN-кода. Выньте карту и сообщите в поддержку.",
    "idle": "Сеанс закрыт из-за бездействия. Чтобы войти снова, выньте карту и вставьте её ещё раз.",
    "logout": "Сеанс закрыт. Чтобы войти снова, выньте карту и вставьте её ещё раз.",
    "shutdown": "Киоск перезапускается. Выньте карту.",
}


def pin_view(
    state: AccessState,
    *,
    now: dt.datetime,
    zone: dt.tzinfo,
    max_attempts: int,
    lockout_minutes: float,
    last: PinResult | None = None,
) -> PinView:
    """The PIN screen for ``state`` (``last``: the result of the PIN just typed, if any)."""
    card = f"Карта техника {state.card_id} проверена" if state.card_id else "Карта не проверена"
    if state.phase is Phase.OPEN:
        return PinView(card, "PIN-код принят", "", "Открываем диагностику…", False, False)
    if state.phase is Phase.REJECTED:
        if state.reason == "locked" and state.locked_until is not None:
            left = max(1, math.ceil((state.locked_until - now).total_seconds() / 60))
            message = (
                f"Карта заблокирована до {_local(state.locked_until, now, zone)} (ещё {left} мин) "
                f"после {max_attempts} неверных PIN-кодов подряд. Выньте карту."
            )
            return PinView(card, "Вход невозможен", "Попыток не осталось", message, True, False)
        message = _CLOSED.get(state.reason or "", "Доступ закрыт. Выньте карту.")
        return PinView(card, "Вход невозможен", "", message, True, False)
    left = state.attempts_left if state.attempts_left is not None else max_attempts
    attempts = f"Осталось попыток: {left} из {max_attempts}"
    if left == 1:
        attempts += f". Ещё одна ошибка — карта будет заблокирована на {lockout_minutes:g} мин"
    message = "Неверный PIN-код." if last is PinResult.REJECTED else ""
    return PinView(card, "Введите PIN-код (4–12 цифр) и нажмите «Войти»", attempts, message, bool(message), True)


# -- the tiles and their actions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """A button on a tile's details."""

    key: str
    label: str
    #: "run": blocking work in a worker; "pick": choose a place first; "screen": another screen
    kind: str = "run"


@dataclass(frozen=True)
class ActionResult:
    """What an action did, for the result panel."""

    title: str
    lines: tuple[str, ...] = ()
    ok: bool = True


ACTIONS: dict[str, tuple[Action, ...]] = {
    "printer": (Action("test_page", "Напечатать тестовую страницу"),),
    "terminal": (
        Action("terminal_diagnosis", "Диагностика терминала"),
        Action("end_of_day", "Сверка итогов: закрыть смену и напечатать"),
    ),
    "database": (
        Action("resolve", "Решение по спорной продаже", "screen"),
        Action("last_sales", "Последние 50 продаж"),
    ),
    "server": (
        Action("sync", "Синхронизировать сейчас"),
        Action("log", "Журнал работы: 200 строк"),
    ),
    "disk": (Action("backup", "Резервная копия журнала на USB", "pick"),),
}

LIGHT_WORD = {Light.GREEN: "Норма", Light.YELLOW: "Внимание", Light.RED: "Неисправность"}

_DETAIL_LABELS = {
    "ready": "Готов",
    "blocking": "Блокирует продажу",
    "warnings": "Предупреждения",
    "profile": "Профиль принтера",
    "reason": "Состояние",
    "terminal_id": "Номер терминала",
    "software": "Версия ПО",
    "vending_mode": "Режим торгового автомата",
    "last_payment": "Последняя оплата",
    "readers": "Считыватели",
    "cards": "Карты в считывателе",
    "reconnects": "Переподключений к pcscd",
    "last_error": "Последняя ошибка",
    "insurer_reachable": "Страховщик доступен",
    "pending_outbox": "Событий в очереди на сервер",
    "configured": "Сервер настроен",
    "reachable": "Сервер отвечает",
    "clock_skew_seconds": "Расхождение часов, с",
    "detail": "Подробности",
    "free_mb": "Свободно, МБ",
    "total_mb": "Всего, МБ",
    "path": "Каталог данных",
    "integrity": "Проверка целостности",
    "flagged": "Ждут решения техника",
    "unresolved": "Незавершённые оплаты",
    "revision": "Версия схемы",
    "unrecorded": "Не записаны в журнал",
    "reason_code": "Код причины",
    "remedy": "Что делать",
    "journal_file": "Файл журнала",
    "sidecar_file": "Вторая запись журнала",
    "version": "Редакция тарифов",
    "in_force_from": "Действует с",
    "file": "Файл",
}

RESOLUTIONS: tuple[tuple[SaleState, str], ...] = (
    (SaleState.COMPLETED, "Оплачено — полис выдан"),
    (SaleState.REVERSED, "Платёж отменён — деньги вернулись"),
    (SaleState.ABANDONED, "Оплаты не было"),
)
#: reasons a technician usually has; any of them can be edited or replaced on the keyboard
REASONS = (
    "Сверено с чеком терминала",
    "Сверено с отчётом сверки итогов",
    "Подтверждено страховщиком",
    "Клиент предъявил чек",
)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "да" if value else "нет"
    if value in (None, [], ""):
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def detail_lines(tile: Tile) -> list[str]:
    """A tile's details as "Label: value" lines in Russian."""
    return [f"{_DETAIL_LABELS.get(key, key)}: {_value(value)}" for key, value in tile.details.items()]


def local_time(iso: str, zone: dt.tzinfo) -> str:
    """A journal time (ISO, UTC) as the kiosk's local ``ДД.ММ.ГГГГ ЧЧ:ММ``."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(zone):%d.%m.%Y %H:%M}"


def sale_summary(row: dict[str, Any], zone: dt.tzinfo) -> str:
    """A flagged sale as the technician needs it to decide (no personal data)."""
    amount = rub(Decimal(row["amount"])) if row.get("amount") else "—"
    return (
        f"Продажа {str(row['id'])[:8]} от {local_time(str(row['created_at']), zone)}, {amount}\n"
        f"Чек терминала: {row.get('terminal_receipt_no') or '—'}, карта {row.get('masked_pan') or '—'}\n"
        f"Почему спорная: {row.get('flag_reason') or '—'}"
    )


def _sale_line(row: dict[str, Any], zone: dt.tzinfo) -> str:
    amount = rub(Decimal(row["amount"])) if row.get("amount") else "—"
    policy = row.get("policy_number") or row.get("application_number") or ""
    created = local_time(str(row.get("created_at", "")), zone)
    receipt = f", чек {row['terminal_receipt_no']}" if row.get("terminal_receipt_no") else ""
    return f"{created}  {str(row['id'])[:8]}  {row['state']}  {amount}{receipt}  {policy}".rstrip()


@dataclass
class ResolveForm:
    """The decision about one flagged sale: the resolution and the reason (both required)."""

    sale: dict[str, Any]
    resolution: SaleState | None = None
    note: str = ""

    def problem(self) -> str | None:
        """What is missing, or None."""
        if self.resolution is None:
            return "Выберите решение"
        if not self.note.strip():
            return "Укажите основание решения — без него решение не принимается"
        return None

    def confirmation(self) -> str:
        """The question before the decision is recorded."""
        label = dict(RESOLUTIONS).get(self.resolution, "—") if self.resolution else "—"
        amount = rub(Decimal(self.sale["amount"])) if self.sale.get("amount") else "—"
        return (
            f"Продажа {str(self.sale['id'])[:8]} на {amount}: «{label}».\n"
            f"Основание: {self.note.strip()}\n"
            "Решение будет записано в журнал с номером вашей карты и отправлено оператору. Отменить его нельзя."
        )


@dataclass
class HealthSchedule:
    """When the next ``device.health`` report is due (monotonic seconds)."""

    every: float
    next_due: float
    retry: float = 30.0

    def due(self, now: float) -> bool:
        """Time to report."""
        return now >= self.next_due

    def reported(self, now: float) -> None:
        """A report went out: the next in ``every`` seconds."""
        self.next_due = now + self.every

    def postponed(self, now: float) -> None:
        """The kiosk was busy (a sale): try again shortly."""
        self.next_due = now + self.retry


@dataclass
class TechnicianDesk:
    """The diagnostics screen's state and verbs; blocking verbs run in the app's worker thread."""

    diagnostics: Diagnostics
    service_mode: ServiceMode
    sales: SaleService
    zone: dt.tzinfo
    media_roots: Sequence[Path] = ()
    backup_fallback: Path = Path("backups")
    health_every: float = 600.0
    mounts_file: Path = Path("/proc/self/mounts")
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    tiles: list[Tile] = field(default_factory=list)
    checked_at: dt.datetime | None = None
    pad: PinPad = field(default_factory=PinPad)
    last_pin: PinResult | None = None
    health: HealthSchedule = field(init=False)

    def __post_init__(self) -> None:
        # The first report soon after start, so the dashboard sees the kiosk come up.
        self.health = HealthSchedule(self.health_every, time.monotonic() + 30.0)

    # -- access ------------------------------------------------------------------------------
    def actor(self) -> str:
        """The card id of the open session (the ``actor`` of every journaled action)."""
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
        """Check the typed PIN (blocking: a deliberately slow hash; call from a worker)."""
        result = self.service_mode.enter_pin(self.pad.take())
        self.last_pin = result
        return result

    def forget(self) -> None:
        """The session ended: nothing of it stays on screen."""
        self.pad.clear()
        self.last_pin = None
        self.tiles = []
        self.checked_at = None

    # -- tiles -------------------------------------------------------------------------------
    def refresh(self) -> list[Tile]:
        """Run every check (blocking)."""
        self.tiles = self.diagnostics.tiles()
        self.checked_at = self.clock()
        return self.tiles

    def verdict(self) -> tuple[bool, str]:
        """Whether the kiosk can sell, as one line."""
        if not self.tiles:
            return True, ""
        can_sell, reasons = verdict(self.tiles)
        if can_sell:
            return True, "Киоск может продавать полисы"
        return False, "Продажа невозможна: " + "; ".join(reasons)

    def checked_text(self) -> str:
        """When the tiles were checked."""
        if self.checked_at is None:
            return ""
        return f"Проверено в {self.checked_at.astimezone(self.zone):%H:%M:%S}"

    def tile(self, key: str) -> Tile:
        """The tile called ``key``."""
        for tile in self.tiles:
            if tile.key == key:
                return tile
        raise KeyError(key)

    def actions(self, key: str) -> tuple[Action, ...]:
        """The buttons on a tile's details (resolving only while a sale waits for it)."""
        actions = ACTIONS.get(key, ())
        if key == "database" and not self._flagged_ids():
            actions = tuple(a for a in actions if a.key != "resolve")
        return actions

    def _flagged_ids(self) -> list[str]:
        try:
            return list(self.tile("database").details.get("flagged", []))
        except KeyError:
            return []

    # -- actions -----------------------------------------------------------------------------
    def run(self, key: str, *, on_progress: Callable[[str], object] | None = None) -> ActionResult:
        """Do one action as the card's holder (blocking), then check again and report health."""
        actor = self.actor()
        handler = getattr(self, f"_{key}")
        result: ActionResult = handler(actor, on_progress) if key == "sync" else handler(actor)
        self.after_action()
        return result

    def after_action(self) -> None:
        """Fresh tiles, and a ``device.health`` event so the operator's dashboard sees the change."""
        try:
            self.refresh()
            self.diagnostics.report_health(self.tiles)
        except Exception:  # the action's own result matters more than the re-check
            log.exception("checks after a technician action failed")
            return
        self.health.reported(time.monotonic())

    def _test_page(self, actor: str) -> ActionResult:
        printed = self.diagnostics.test_page(actor)
        if printed.ok:
            return ActionResult("Тестовая страница напечатана", ("Проверьте: русский текст, QR-код, штрихкод, отрез.",))
        return ActionResult("Тестовая страница не напечатана", (printed.error or "принтер не готов",), False)

    def _terminal_diagnosis(self, actor: str) -> ActionResult:
        result = self.diagnostics.terminal_diagnosis(actor)
        title = "Терминал исправен" if result.ok else "Терминал сообщил о неисправности"
        return ActionResult(title, (result.result_text, *result.receipt_lines), result.ok)

    def _end_of_day(self, actor: str) -> ActionResult:
        totals, printed = self.diagnostics.end_of_day(actor)
        lines = [
            f"Операций: {totals.count}",
            f"Сумма: {rub(totals.amount)}",
            *(f"{group.card_type}: {group.count} на {rub(group.amount)}" for group in totals.groups if group.count),
        ]
        if totals.receipt_range:
            lines.append(f"Чеки с {totals.receipt_range[0]} по {totals.receipt_range[1]}")
        printed_ok = printed is not None and printed.ok
        lines.append("Итоги напечатаны" if printed_ok else "Итоги НЕ напечатаны: проверьте принтер")
        lines.append("Итоги переданы оператору (уйдут с ближайшей синхронизацией)")
        title = "Смена закрыта" if totals.ok else f"Терминал не закрыл смену: {totals.result_text}"
        return ActionResult(title, tuple(lines), totals.ok)

    def _last_sales(self, actor: str) -> ActionResult:
        rows = self.diagnostics.last_sales(50, actor=actor)
        lines = tuple(_sale_line(row, self.zone) for row in rows) or ("Продаж ещё не было",)
        return ActionResult(f"Последние продажи: {len(rows)}", lines)

    def _log(self, actor: str) -> ActionResult:
        lines = self.diagnostics.last_log_lines(200, actor=actor)
        return ActionResult(f"Журнал работы: последние {len(lines)} строк", tuple(lines[::-1]) or ("Журнал пуст",))

    def _sync(self, actor: str, on_progress: Callable[[str], object] | None) -> ActionResult:
        def progress(done: int, total: int) -> None:
            if on_progress is not None:
                on_progress(f"Отправлено событий: {done} из {total}")

        try:
            report = self.diagnostics.sync_now(actor, progress)
        except ServerNotConfiguredError as exc:
            return ActionResult("Центральный сервер не настроен", (exc.reason,), False)
        lines = [
            f"Отправлено событий: {report.sent}, подтверждено: {report.acknowledged}, осталось: {report.remaining}",
            f"Обновлено заявлений: {report.applications_updated}",
        ]
        if report.tariffs is not None:
            lines.append(f"Тарифы: {report.tariffs.outcome} {report.tariffs.version or ''}".rstrip())
        if report.error is not None:
            lines.append(report.error.reason)
        return ActionResult("Синхронизация выполнена" if report.ok else "Синхронизация не завершена", tuple(lines),
                            report.ok)  # fmt: skip

    # -- backup ------------------------------------------------------------------------------
    def backup_targets(self) -> list[BackupTarget]:
        """Mounted removable media, then the configured fallback directory."""
        return backup_targets(self.media_roots, self.backup_fallback, mounts_file=self.mounts_file)

    def backup(self, destination: Path) -> ActionResult:
        """Copy the journal to ``destination`` and prove the copy by restoring it (blocking)."""
        actor = self.actor()
        try:
            result = self.diagnostics.backup(destination, actor)
        except OSError as exc:
            self.diagnostics.record(actor, "backup", {"path": str(destination), "verified": False, "error": str(exc)})
            return ActionResult("Копия не сделана", (f"{destination}: {exc.strerror or exc}",), False)
        finally:
            self.after_action()
        lines = (
            f"Файл: {result.path}",
            f"Продаж в копии: {result.sales}",
            f"Проверка восстановлением: {'пройдена' if result.verified else 'НЕ пройдена'} ({result.integrity})",
        )
        title = "Копия сделана и проверена" if result.verified else "Копия сделана, но проверку не прошла"
        return ActionResult(title, lines, result.verified)

    # -- a flagged sale ----------------------------------------------------------------------
    def flagged(self) -> list[dict[str, Any]]:
        """Sales waiting for a decision (blocking: reads the journal)."""
        return self.diagnostics.flagged_sales()

    def resolve(self, form: ResolveForm) -> ActionResult:
        """Record the technician's decision about a flagged sale (blocking)."""
        problem = form.problem()
        if problem is not None or form.resolution is None:
            return ActionResult("Решение не принято", (problem or "",), False)
        actor = self.actor()
        try:
            outcome = self.sales.resolve_flagged(form.sale["id"], form.resolution, actor=actor, note=form.note.strip())
        except SaleError as exc:
            return ActionResult("Решение не принято", (exc.message,), False)
        finally:
            self.after_action()
        label = dict(RESOLUTIONS)[form.resolution]
        return ActionResult(
            f"Решение записано: {label}",
            (f"Продажа {str(form.sale['id'])[:8]}", outcome.message, outcome.money, f"Карта: {actor}"),
        )

    # -- the periodic health report ----------------------------------------------------------
    def report_health_if_idle(self) -> bool:
        """A ``device.health`` event unless a sale holds the devices (blocking; from a worker)."""
        return self.diagnostics.report_health_when_idle()
