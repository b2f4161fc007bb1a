"""What operators read: sales per kiosk per day, KPI against target, renewals and lapsed policies,
three-way reconciliation (payments ↔ policies ↔ terminal end-of-day totals), kiosk health, applications.

Each report is a ``Table`` (Russian headers, display cells and raw CSV values) so the page and the CSV
export show the same thing. Days are the insurer's local days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import aliased

from server.config import ServerSettings
from server.db import Database
from server.models import Application, EndOfDay, Event, Kiosk, Payment, Policy, PolicyKey, RenewalQuote, Sale
from server.search import VEHICLE_FIELDS

__all__ = ["DaySales", "Reports", "Table", "money", "person_name"]

ZERO = Decimal("0.00")

#: printer condition codes a kiosk reports in device.health (``drivers.printer.status.Condition.code``)
PRINTER_CONDITIONS = {
    "paper_near_end": "бумага заканчивается",
    "paper_end": "нет бумаги",
    "cover_open": "открыта крышка",
    "offline": "не в сети",
    "cutter_error": "ошибка отрезчика",
    "unrecoverable_error": "неустранимая ошибка",
    "recoverable_error": "устранимая ошибка",
    "auto_recoverable_error": "перегрев или питание",
    "error": "ошибка принтера",
    "paper_jam": "замятие бумаги",
    "ticket_not_taken": "документ не забран",
    "no_reply": "не отвечает",
    "malformed_reply": "неверный ответ",
    "print_timeout": "печать не завершилась",
}


def money(value: Decimal | None) -> str:
    """``1 234 567,89`` (thin groups, decimal comma) — how Russian reports write roubles."""
    if value is None:
        return "—"
    text = f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def person_name(person: dict[str, Any] | None) -> str:
    """Фамилия И. О. of a stored person (operators call customers by it)."""
    if not person:
        return "—"
    initials = "".join(f" {str(person[k])[0]}." for k in ("first_name", "middle_name") if person.get(k))
    return f"{person.get('last_name', '')}{initials}".strip() or "—"


def vehicle_text(vehicle: dict[str, Any] | None) -> str:
    """Make, model and plate of a stored vehicle."""
    if not vehicle:
        return "—"
    make = " ".join(str(vehicle[k]) for k in ("make", "model") if vehicle.get(k))
    plate = vehicle.get("plate") or vehicle.get("vin") or ""
    return f"{make} {plate}".strip() or "—"


@dataclass
class Table:
    """A report table: ``cells`` for the page, ``values`` for the CSV (same rows, same order)."""

    name: str
    title: str
    headers: list[str]
    cells: list[list[str]] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)
    #: per row: "" or a CSS class (mismatch, warning, offline)
    marks: list[str] = field(default_factory=list)
    empty: str = "Нет данных"
    #: column indexes shown right-aligned (numbers) and allowed to wrap (long texts)
    numeric: tuple[int, ...] = ()
    wrap: tuple[int, ...] = ()

    def add(self, cells: Sequence[str], values: Sequence[Any], mark: str = "") -> None:
        """Append a row."""
        self.cells.append(list(cells))
        self.values.append(list(values))
        self.marks.append(mark)


@dataclass(frozen=True)
class DaySales:
    """Sales of one kiosk on one day."""

    day: dt.date
    kiosk_id: str
    count: int
    premium: Decimal


class Reports:
    """Report queries on the server database."""

    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self.db = database
        self.settings = settings
        self.zone = settings.zone

    def _day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def kiosk_ids(self) -> list[str]:
        """Every provisioned kiosk and every kiosk with a target, sorted."""
        with self.db.session() as session:
            ids = set(session.scalars(select(Kiosk.id)).all())
        ids |= {k for k in self.settings.reports.targets if k != "default"}
        return sorted(ids)

    # -- sales ---------------------------------------------------------------------------------------
    def sales_by_day(self, now: dt.datetime, days: int) -> list[DaySales]:
        """Completed sales per kiosk per day for the last ``days`` days (today included)."""
        first = self._day(now) - dt.timedelta(days=days - 1)
        since = dt.datetime.combine(first, dt.time(), tzinfo=self.zone)
        with self.db.session() as session:
            rows = session.execute(
                select(Sale.kiosk_id, Sale.finished_at, Sale.amount).where(
                    Sale.status == "completed", Sale.finished_at >= since
                )
            ).all()
        totals: dict[tuple[dt.date, str], list[Any]] = defaultdict(lambda: [0, ZERO])
        for kiosk_id, finished, amount in rows:
            cell = totals[(self._day(finished), kiosk_id)]
            cell[0] += 1
            cell[1] += amount or ZERO
        return [DaySales(day, kiosk, n, total) for (day, kiosk), (n, total) in sorted(totals.items())]

    def sales_table(self, now: dt.datetime, days: int) -> Table:
        """Sales and premium per kiosk per day, newest day first."""
        table = Table(
            "sales",
            "Продажи по киоскам и дням",
            ["Дата", "Киоск", "Полисов", "Премия, руб.", "Средняя премия, руб."],
            empty="Продаж за период нет",
            numeric=(2, 3, 4),
        )
        for row in sorted(self.sales_by_day(now, days), key=lambda r: (r.day, r.kiosk_id), reverse=True):
            average = ((row.premium / row.count) if row.count else ZERO).quantize(Decimal("0.01"), ROUND_HALF_UP)
            table.add(
                [row.day.strftime("%d.%m.%Y"), row.kiosk_id, str(row.count), money(row.premium), money(average)],
                [row.day.isoformat(), row.kiosk_id, row.count, str(row.premium), str(average)],
            )
        return table

    def kpi_table(self, now: dt.datetime) -> Table:
        """Premium this month against each kiosk's monthly target."""
        local = now.astimezone(self.zone)
        month_start = dt.datetime(local.year, local.month, 1, tzinfo=self.zone)
        with self.db.session() as session:
            rows = session.execute(
                select(Sale.kiosk_id, Sale.amount).where(Sale.status == "completed", Sale.finished_at >= month_start)
            ).all()
        done: dict[str, Decimal] = defaultdict(lambda: ZERO)
        count: dict[str, int] = defaultdict(int)
        for kiosk_id, amount in rows:
            done[kiosk_id] += amount or ZERO
            count[kiosk_id] += 1
        months = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
                  "ноябрь", "декабрь")  # fmt: skip
        table = Table(
            "kpi",
            f"План на {months[local.month - 1]} {local.year}",
            ["Киоск", "План, руб.", "Выполнено, руб.", "Полисов", "Выполнение", "Осталось, руб."],
            empty="Нет киосков",
            numeric=(1, 2, 3, 4, 5),
        )
        for kiosk_id in sorted(set(self.kiosk_ids()) | set(done)):
            target = self.settings.target(kiosk_id)
            value = done[kiosk_id]
            if target:
                percent = (value / target * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
                left = max(target - value, ZERO)
                cells = [kiosk_id, money(target), money(value), str(count[kiosk_id]), f"{percent} %", money(left)]
                values = [kiosk_id, str(target), str(value), count[kiosk_id], str(percent), str(left)]
                mark = "good" if value >= target else ""
            else:
                cells = [kiosk_id, "не задан", money(value), str(count[kiosk_id]), "—", "—"]
                values = [kiosk_id, "", str(value), count[kiosk_id], "", ""]
                mark = ""
            table.add(cells, values, mark)
        return table

    # -- renewals ------------------------------------------------------------------------------------
    def renewals_table(self, now: dt.datetime) -> Table:
        """Active policies ending within the renewal horizon, with the renewal premium if priced."""
        horizon = now + dt.timedelta(days=self.settings.reports.renewal_days)
        with self.db.session() as session:
            policies = session.scalars(
                select(Policy)
                .where(Policy.status == "active", Policy.period_end > now, Policy.period_end <= horizon)
                .order_by(Policy.period_end)
            ).all()
            quotes = self._latest_quotes(session, [p.id for p in policies])
        table = Table(
            "renewals",
            f"Продление: полисы, истекающие в ближайшие {self.settings.reports.renewal_days} дней",
            ["Полис", "Киоск", "Страхователь", "Телефон", "ТС", "Действует по", "Дней", "Премия продления, руб."],
            empty="Полисов к продлению нет",
            numeric=(6, 7),
            wrap=(2, 4),
        )
        for policy in policies:
            last_day = self._day(policy.period_end - dt.timedelta(microseconds=1))
            days_left = (last_day - self._day(now)).days
            quote = quotes.get(policy.id)
            renewal = money(quote.premium) if quote and quote.premium else ("ошибка" if quote else "не рассчитана")
            holder = policy.policyholder or policy.owner
            phone = str((holder or {}).get("phone") or "—")
            table.add(
                [f"{policy.series} {policy.number}", policy.kiosk_id, person_name(holder), phone,
                 vehicle_text(policy.vehicle), last_day.strftime("%d.%m.%Y"), str(days_left), renewal],
                [f"{policy.series} {policy.number}", policy.kiosk_id, person_name(holder), phone,
                 vehicle_text(policy.vehicle), last_day.isoformat(), days_left,
                 str(quote.premium) if quote and quote.premium else ""],
                "warning" if days_left <= 7 else "",
            )  # fmt: skip
        return table

    @staticmethod
    def _latest_quotes(session: Any, policy_ids: list[int]) -> dict[int, RenewalQuote]:
        if not policy_ids:
            return {}
        quotes: dict[int, RenewalQuote] = {}
        for quote in session.scalars(
            select(RenewalQuote).where(RenewalQuote.policy_id.in_(policy_ids)).order_by(RenewalQuote.priced_at)
        ):
            quotes[quote.policy_id] = quote
        return quotes

    def lapsed_table(self, now: dt.datetime, within_days: int = 90) -> Table:
        """Policies that ended more than the lapse delay ago and were not renewed for the same vehicle."""
        hours = self.settings.reports.lapsed_hours
        cutoff = now - dt.timedelta(hours=hours)
        since = now - dt.timedelta(days=within_days)
        # A later policy for the same vehicle (same plate, VIN or body number digest) is a renewal.
        mine, theirs = aliased(PolicyKey), aliased(PolicyKey)
        later = aliased(Policy)
        renewed = (
            select(literal(1))
            .select_from(mine)
            .join(theirs, (theirs.field == mine.field) & (theirs.digest == mine.digest))
            .join(later, later.id == theirs.policy_id)
            .where(
                mine.policy_id == Policy.id,
                mine.field.in_(VEHICLE_FIELDS),
                later.status == "active",
                later.period_end > since,
                later.period_start > Policy.period_start,
            )
        )
        with self.db.session() as session:
            ended = session.scalars(
                select(Policy)
                .where(
                    Policy.status == "active",
                    Policy.period_end <= cutoff,
                    Policy.period_end > since,
                    ~renewed.exists(),
                )
                .order_by(Policy.period_end.desc())
            ).all()
        table = Table(
            "lapsed",
            f"Не продлены: полисы, истёкшие более {hours} часов назад",
            ["Полис", "Киоск", "Страхователь", "Телефон", "ТС", "Истёк", "Часов без полиса"],
            empty="Непродлённых полисов нет",
            numeric=(6,),
            wrap=(2, 4),
        )
        for policy in ended:
            holder = policy.policyholder or policy.owner
            phone = str((holder or {}).get("phone") or "—")
            lapsed_hours = int((now - policy.period_end).total_seconds() // 3600)
            ended_at = policy.period_end.astimezone(self.zone)
            table.add(
                [f"{policy.series} {policy.number}", policy.kiosk_id, person_name(holder), phone,
                 vehicle_text(policy.vehicle), ended_at.strftime("%d.%m.%Y %H:%M"), str(lapsed_hours)],
                [f"{policy.series} {policy.number}", policy.kiosk_id, person_name(holder), phone,
                 vehicle_text(policy.vehicle), ended_at.isoformat(), lapsed_hours],
                "warning",
            )  # fmt: skip
        return table

    # -- reconciliation ------------------------------------------------------------------------------
    def reconciliation(self, now: dt.datetime, days: int) -> tuple[Table, Table]:
        """Per kiosk and day: committed payments, registered policies, end-of-day totals; and each mismatch."""
        since = dt.datetime.combine(self._day(now) - dt.timedelta(days=days - 1), dt.time(), tzinfo=self.zone)
        with self.db.session() as session:
            closings = session.scalars(select(EndOfDay).where(EndOfDay.at >= since).order_by(EndOfDay.at)).all()
            previous = {
                k: session.scalars(
                    select(EndOfDay.at).where(EndOfDay.kiosk_id == k, EndOfDay.at < since).order_by(EndOfDay.at.desc())
                ).first()
                for k in {c.kiosk_id for c in closings}
            }
            # Payments back to the earliest batch start, so the first closing of the period is checked whole.
            earliest = min([since - dt.timedelta(days=2), *(t for t in previous.values() if t is not None)])
            payments = session.scalars(select(Payment).where(Payment.at >= earliest)).all()
            policies = session.scalars(select(Policy).where(Policy.registered_at >= earliest)).all()
        committed = [p for p in payments if p.status == "committed"]
        by_day: dict[tuple[dt.date, str], dict[str, list[Any]]] = defaultdict(
            lambda: {"pay": [0, ZERO], "pol": [0, ZERO], "eod": [0, ZERO]}
        )
        for p in committed:
            if p.at >= since:
                cell = by_day[(self._day(p.at), p.kiosk_id)]["pay"]
                cell[0] += 1
                cell[1] += p.amount
        for pol in policies:
            if pol.status == "active" and pol.registered_at >= since:
                cell = by_day[(self._day(pol.registered_at), pol.kiosk_id)]["pol"]
                cell[0] += 1
                cell[1] += pol.premium
        for closing in closings:
            cell = by_day[(self._day(closing.at), closing.kiosk_id)]["eod"]
            cell[0] += closing.count
            cell[1] += closing.amount

        days_table = Table(
            "reconciliation",
            "Сверка: оплаты, полисы и итоги терминала по дням",
            ["Дата", "Киоск", "Оплат", "Сумма оплат", "Полисов", "Сумма полисов", "Итоги терминала", "Сумма итогов",
             "Результат"],
            empty="Нет операций за период",
            numeric=(2, 3, 4, 5, 6, 7),
        )  # fmt: skip
        for (day, kiosk), totals in sorted(by_day.items(), reverse=True):
            paid, issued, closed = totals["pay"], totals["pol"], totals["eod"]
            agree = paid == issued and closed in ([0, ZERO], paid)
            verdict = "сходится" if agree else "расхождение"
            mark = "" if agree else "mismatch"
            if closed == [0, ZERO] and paid != [0, ZERO] and agree:
                verdict, mark = "нет итогов терминала", "warning"
            days_table.add(
                [day.strftime("%d.%m.%Y"), kiosk, str(paid[0]), money(paid[1]), str(issued[0]), money(issued[1]),
                 str(closed[0]), money(closed[1]), verdict],
                [day.isoformat(), kiosk, paid[0], str(paid[1]), issued[0], str(issued[1]), closed[0], str(closed[1]),
                 verdict],
                mark,
            )  # fmt: skip

        issues = Table(
            "mismatches",
            "Расхождения",
            ["Киоск", "Продажа / период", "Что не сходится", "Разница, руб."],
            empty="Расхождений нет",
            numeric=(3,),
            wrap=(2,),
        )
        self._sale_mismatches(issues, committed, policies, since)
        self._closing_mismatches(issues, committed, closings, previous)
        for row in range(len(issues.cells)):
            issues.marks[row] = "mismatch"
        return days_table, issues

    def _sale_mismatches(
        self, issues: Table, committed: Sequence[Payment], policies: Sequence[Policy], since: dt.datetime
    ) -> None:
        """Payments without a live policy, policies without a payment, amounts that differ."""
        active_by_sale = {p.sale_id: p for p in policies if p.sale_id and p.status == "active"}
        any_by_sale = {p.sale_id: p for p in policies if p.sale_id}
        paid_sales = {p.sale_id for p in committed}
        for p in committed:
            if p.at < since:
                continue
            if p.sale_id not in active_by_sale:
                what = "оплата без действующего полиса"
                if p.sale_id in any_by_sale:
                    what = "оплата по аннулированному полису"
                issues.add([p.kiosk_id, p.sale_id, what, money(p.amount)], [p.kiosk_id, p.sale_id, what, str(p.amount)])
            elif active_by_sale[p.sale_id].premium != p.amount:
                pol = active_by_sale[p.sale_id]
                what = f"сумма оплаты не равна премии полиса {pol.series} {pol.number} ({money(pol.premium)})"
                issues.add([p.kiosk_id, p.sale_id, what, money(p.amount)], [p.kiosk_id, p.sale_id, what, str(p.amount)])
        for pol in active_by_sale.values():
            if pol.registered_at >= since and pol.sale_id not in paid_sales:
                what = f"полис {pol.series} {pol.number} без подтверждённой оплаты"
                issues.add(
                    [pol.kiosk_id, pol.sale_id or "—", what, money(pol.premium)],
                    [pol.kiosk_id, pol.sale_id, what, str(pol.premium)],
                )

    def _closing_mismatches(
        self,
        issues: Table,
        committed: Sequence[Payment],
        closings: Sequence[EndOfDay],
        previous: dict[str, dt.datetime | None],
    ) -> None:
        """End-of-day totals that differ from the payments the kiosk reported for the same batch."""
        # Each closing covers the payments since the kiosk's previous closing.
        last: dict[str, dt.datetime | None] = dict(previous)
        for closing in closings:
            start = last.get(closing.kiosk_id)
            batch = [
                p
                for p in committed
                if p.kiosk_id == closing.kiosk_id and p.at <= closing.at and (start is None or p.at > start)
            ]
            total = sum((p.amount for p in batch), ZERO)
            if len(batch) != closing.count or total != closing.amount:
                begin = start.astimezone(self.zone).strftime("%d.%m %H:%M") if start else "начало"
                period = f"{begin} – {closing.at.astimezone(self.zone).strftime('%d.%m %H:%M')}"
                what = (
                    f"итоги терминала {closing.count} на {money(closing.amount)}, "
                    f"оплат в журнале {len(batch)} на {money(total)}"
                )
                diff = closing.amount - total
                issues.add([closing.kiosk_id, period, what, money(diff)], [closing.kiosk_id, period, what, str(diff)])
            last[closing.kiosk_id] = closing.at

    # -- health and applications ---------------------------------------------------------------------
    def health_table(self, now: dt.datetime) -> Table:
        """Each kiosk: last seen, printer and paper, terminal, pending outbox, tariffs, spoiled printouts."""
        offline = dt.timedelta(minutes=self.settings.reports.offline_minutes)
        with self.db.session() as session:
            kiosks = session.scalars(select(Kiosk).order_by(Kiosk.id)).all()
            spoiled_rows = session.execute(
                select(Event.kiosk_id).where(
                    Event.kind == "print.spoiled", Event.created_at >= now - dt.timedelta(days=7)
                )
            ).all()
        spoiled: dict[str, int] = defaultdict(int)
        for (kiosk_id,) in spoiled_rows:
            spoiled[kiosk_id] += 1
        table = Table(
            "health",
            "Состояние киосков",
            ["Киоск", "Связь", "Последний сеанс", "Принтер", "Бумага", "Терминал", "Не отправлено",
             "Тарифы", "Испорчено за 7 дн."],
            empty="Киоски не подключены",
            numeric=(6, 8),
            wrap=(3, 5),
        )  # fmt: skip
        for kiosk in kiosks:
            seen = kiosk.last_seen_at
            online = seen is not None and now - seen <= offline
            link = "на связи" if online else ("нет связи" if seen else "не выходил на связь")
            health = kiosk.health or {}
            printer = health.get("printer") or {}
            terminal = health.get("terminal") or {}
            if not health:
                printer_text = paper = terminal_text = "нет данных"
            else:
                codes = list(printer.get("blocking") or [])
                blocking = ", ".join(PRINTER_CONDITIONS.get(code, code) for code in codes)
                printer_text = "готов" if printer.get("ready") else f"не готов: {blocking or 'нет ответа'}"
                paper = "заканчивается" if health.get("paper_low") else "есть"
                if "paper_end" in codes:
                    paper = "нет бумаги"
                terminal_text = "готов" if terminal.get("ready") else f"не готов: {terminal.get('reason') or '—'}"
            pending = health.get("pending_outbox")
            seen_text = seen.astimezone(self.zone).strftime("%d.%m.%Y %H:%M") if seen else "—"
            problem = (not online) or (
                bool(health)
                and (not printer.get("ready") or not terminal.get("ready") or bool(health.get("paper_low")))
            )
            table.add(
                [kiosk.id, link, seen_text, printer_text, paper, terminal_text,
                 "—" if pending is None else str(pending), str(health.get("tariff_version") or "—"),
                 str(spoiled[kiosk.id])],
                [kiosk.id, link, seen.isoformat() if seen else "", printer_text, paper, terminal_text,
                 "" if pending is None else pending, health.get("tariff_version") or "", spoiled[kiosk.id]],
                "offline" if not online else ("warning" if problem else ""),
            )  # fmt: skip
        return table

    def applications_table(self, limit: int = 200) -> tuple[Table, list[Application]]:
        """The newest applications with their status."""
        with self.db.session() as session:
            rows = session.scalars(select(Application).order_by(Application.created_at.desc()).limit(limit)).all()
        table = Table(
            "applications",
            "Заявления",
            ["Номер", "Киоск", "Подано", "Офис", "Явиться до", "Премия, руб.", "Статус", "Изменил"],
            empty="Заявлений нет",
            numeric=(5,),
            wrap=(3,),
        )
        for a in rows:
            created = a.created_at.astimezone(self.zone)
            visit = dt.date.fromisoformat(a.visit_by).strftime("%d.%m.%Y") if a.visit_by else "—"
            table.add(
                [a.number, a.kiosk_id, created.strftime("%d.%m.%Y %H:%M"), a.office, visit, money(a.premium),
                 a.status, a.status_by or "—"],
                [a.number, a.kiosk_id, created.isoformat(), a.office, a.visit_by or "",
                 str(a.premium) if a.premium is not None else "", a.status, a.status_by or ""],
                "warning" if a.status == "в обработке" else "",
            )  # fmt: skip
        return table, list(rows)
