"""HTML pages: the public policy check and the operator dashboard (login required), with CSV exports.

Pages are rendered on the server (Jinja2) with one served stylesheet (``/static/dashboard.css``) and
inline SVG charts: nothing inline that a Content-Security-Policy would have to allow, nothing loaded
from another host, so the dashboard works on an isolated network.

Every form carries a CSRF token and every POST without the right one is refused with 403: on the
dashboard the token is an HMAC keyed with the session cookie (bound to the session, which a page of
another site cannot read); on the log-in form, with a random cookie set by the form itself
(double submit). Cookies are HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS
(``[http] secure_cookies``). Log-ins are throttled and locked out (``server.throttle``), and so are
public checks per address (429 with a page in Russian). Every CSV cell that a spreadsheet would run
as a formula (``= + - @``, tab, CR at the start) is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import re
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from server.auth import OperatorAuth
from server.charts import sales_chart
from server.config import ServerSettings
from server.registry import NotFoundError, Registry, split_policy_number
from server.reports import Reports, Table, money
from server.schemas import APPLICATION_STATUSES
from server.throttle import Throttle

__all__ = ["COOKIE", "CSRF_COOKIE", "CSRF_FIELD", "build_web", "csv_cell", "mask_plate", "mask_vin"]

COOKIE = "osago_session"
#: the log-in form's own cookie (the double-submit half of its CSRF token)
CSRF_COOKIE = "osago_csrf"
#: the hidden field every form carries
CSRF_FIELD = "csrf_token"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (
    ("/dashboard", "Обзор"),
    ("/dashboard/sales", "Продажи"),
    ("/dashboard/renewals", "Продление"),
    ("/dashboard/reconciliation", "Сверка"),
    ("/dashboard/health", "Киоски"),
    ("/dashboard/applications", "Заявления"),
)


def mask_plate(plate: str | None) -> str:
    """``А123ВС77`` → ``А1**ВС 77``: the letters and the region stay, two digits are hidden."""
    if not plate:
        return "—"
    if len(plate) >= 8 and plate[1:4].isdigit():
        return f"{plate[0]}{plate[1]}**{plate[4:6]} {plate[6:]}"
    keep = max(1, len(plate) // 3)
    return plate[:keep] + "*" * (len(plate) - 2 * keep) + plate[-keep:]


def mask_vin(vin: str | None) -> str:
    """``XTA21099012345678`` → ``XTA**********5678`` (manufacturer code and last four)."""
    if not vin:
        return "—"
    if len(vin) <= 7:
        return "*" * len(vin)
    return vin[:3] + "*" * (len(vin) - 7) + vin[-4:]


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ``'`` before what it would run as a formula.

    A plain number (``-1500.00``) stays a number: it is not a formula, and sums must still work.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv(table: Table) -> Response:
    out = io.StringIO()
    # Excel in a Russian locale opens ";"-separated UTF-8 with a BOM correctly.
    writer = csv.writer(out, delimiter=";")
    writer.writerow([csv_cell(h) for h in table.headers])
    writer.writerows([csv_cell(v) for v in row] for row in table.values)
    name = f"{table.name}-{dt.date.today().isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class _Pages:
    """Rendering and operator look-up shared by the routes."""

    def __init__(
        self,
        settings: ServerSettings,
        registry: Registry,
        reports: Reports,
        operators: OperatorAuth,
        *,
        throttle: Throttle,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.reports = reports
        self.operators = operators
        self.throttle = throttle
        self.clock = clock
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.days = settings.reports.chart_days

    def secure(self, request: Request) -> bool:
        """Whether cookies get the Secure flag (HTTPS, as the connection or a trusted proxy says)."""
        mode = self.settings.http.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    def page(
        self, request: Request, name: str, operator: str | None, current: str = "", **context: Any
    ) -> HTMLResponse:
        csrf = _csrf(request.cookies.get(COOKIE), "dashboard") if operator else ""
        context.setdefault("csrf", csrf)
        context.update(insurer=self.settings.insurer.name, operator=operator, nav=NAV, current=current)
        return self.templates.TemplateResponse(request, name, context)

    def login_page(self, request: Request, next_page: str, error: str | None, status: int = 200) -> HTMLResponse:
        """The log-in form with its CSRF token (and the cookie that token is made from, when new)."""
        seed = request.cookies.get(CSRF_COOKIE) or ""
        fresh = not _good_seed(seed)
        if fresh:
            seed = secrets.token_urlsafe(32)
        response = self.page(request, "login.html", None, title="Вход", next=next_page, error=error,
                             csrf=_csrf(seed, "login"))  # fmt: skip
        response.status_code = status
        if fresh:
            response.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="strict", secure=self.secure(request))
        return response

    def refuse_form(self, request: Request) -> HTMLResponse:
        """403 for a POST without the right CSRF token (an old page, or another site's form)."""
        response = self.page(request, "refused.html", None, title="Форма устарела")
        response.status_code = 403
        return response

    def operator_of(self, request: Request) -> str:
        name = self.operators.operator(request.cookies.get(COOKIE))
        if name is None:
            target = quote(str(request.url.path), safe="/")
            raise HTTPException(303, headers={"Location": f"/login?next={target}"})
        return name


def _good_seed(seed: str) -> bool:
    return 32 <= len(seed) <= 64 and seed.isascii()


def _csrf(source: str | None, purpose: str) -> str:
    """The CSRF token of a form: an HMAC keyed with a cookie the browser holds (empty without one)."""
    if not source:
        return ""
    return hmac.new(source.encode("utf-8"), f"osago-csrf:{purpose}".encode(), hashlib.sha256).hexdigest()


def _csrf_ok(sent: str, source: str | None, purpose: str) -> bool:
    expected = _csrf(source, purpose)
    return bool(expected) and hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode())


def _address(request: Request) -> str:
    """The client's address (a trusted proxy's X-Forwarded-For has replaced the proxy's own)."""
    return request.client.host if request.client else "unknown"


def build_web(
    settings: ServerSettings,
    registry: Registry,
    reports: Reports,
    operators: OperatorAuth,
    *,
    throttle: Throttle,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> APIRouter:
    """The public check and dashboard routes."""
    pages = _Pages(settings, registry, reports, operators, throttle=throttle, clock=clock)
    router = APIRouter(include_in_schema=False)
    _public_routes(router, pages)
    _dashboard_routes(router, pages)
    return router


def _public_routes(router: APIRouter, pages: _Pages) -> None:
    settings, registry, operators, page = pages.settings, pages.registry, pages.operators, pages.page

    @router.get("/", response_class=RedirectResponse)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    @router.get("/check", response_class=HTMLResponse)
    def check(request: Request, number: str = "") -> HTMLResponse:
        query = number.strip()[:40]
        result = error = None
        if query and (locked := pages.throttle.check_allowed(_address(request))) is not None:
            minutes = locked.minutes(time.time())
            refused = page(request, "check.html", None, title="Проверка полиса", query="", result=None, error=None,
                           today="", plate="", vin="", busy=minutes)  # fmt: skip
            refused.status_code = 429
            refused.headers["Retry-After"] = str(minutes * 60)
            return refused
        if query:
            parsed = split_policy_number(query)
            if parsed is None:
                error = "Номер полиса — три буквы серии и 10 цифр, например ХХХ 0123456789."
            else:
                result = registry.check(*parsed)
        today = pages.clock().astimezone(settings.zone).strftime("%d.%m.%Y")
        return page(
            request,
            "check.html",
            None,
            title="Проверка полиса",
            query=query,
            result=result,
            error=error,
            plate=mask_plate(result.plate) if result else "",
            vin=mask_vin(result.vin) if result else "",
            today=today,
        )

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/dashboard") -> HTMLResponse:
        return pages.login_page(request, _local(next), None)

    @router.post("/login", response_model=None)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=200)] = "/dashboard",
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        if not _csrf_ok(csrf_token, request.cookies.get(CSRF_COOKIE), "login"):
            return pages.refuse_form(request)
        outcome = operators.login(username, password, _address(request))
        if outcome.locked is not None:
            minutes = outcome.locked.minutes(time.time())
            error = (
                f"Слишком много неудачных попыток входа. Вход временно заблокирован — попробуйте через {minutes} мин."
            )
            refused = pages.login_page(request, _local(next), error, status=429)
            refused.headers["Retry-After"] = str(minutes * 60)
            return refused
        if outcome.token is None:
            return pages.login_page(request, _local(next), "Неверное имя или пароль.", status=401)
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(
            COOKIE,
            outcome.token,
            httponly=True,
            samesite="strict",
            secure=pages.secure(request),
            max_age=int(settings.reports.session_hours * 3600),
        )
        return response

    @router.post("/logout", response_model=None)
    def logout(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
        if not _csrf_ok(csrf_token, request.cookies.get(COOKIE), "dashboard"):
            return pages.refuse_form(request)
        operators.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=pages.secure(request))
        return response


def _dashboard_routes(router: APIRouter, pages: _Pages) -> None:
    registry, reports, page, operator_of = pages.registry, pages.reports, pages.page, pages.operator_of
    settings, clock, days = pages.settings, pages.clock, pages.days

    @router.get("/dashboard", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        operator = operator_of(request)
        now = clock()
        first = now.astimezone(settings.zone).date() - dt.timedelta(days=days - 1)
        chart = sales_chart(reports.sales_by_day(now, days), first, days, reports.kiosk_ids())
        kpi = reports.kpi_table(now)
        cards = []
        for values in kpi.values:
            kiosk_id, target, done, count, percent, left = values
            share = min(100.0, float(Decimal(percent))) if percent else 0.0
            cards.append(
                {
                    "kiosk": kiosk_id,
                    "target": money(Decimal(target)) if target else None,
                    "done": money(Decimal(done)),
                    "count": count,
                    "percent": str(percent).replace(".", ","),
                    "left": money(Decimal(left)) if left else "",
                    "left_zero": bool(left) and Decimal(left) == 0,
                    "width": f"{share:.1f}",
                }
            )
        return page(request, "overview.html", operator, "/dashboard", title="Обзор", chart=chart, kpi=kpi,
                    kpi_cards=cards, days=days, alerts=_alerts(reports, now))  # fmt: skip

    tables: dict[str, tuple[str, str, Callable[[dt.datetime], list[Table]]]] = {
        "sales": ("Продажи", "", lambda now: [reports.sales_table(now, days)]),
        "renewals": (
            "Продление",
            "Напоминания о продлении — за 30 дней до окончания; премия продления рассчитывается ночью "
            "командой osago-server renewals по тарифам, действующим на дату начала нового полиса.",
            lambda now: [reports.renewals_table(now), reports.lapsed_table(now)],
        ),
        "reconciliation": (
            "Сверка",
            "Подтверждённые оплаты терминала, зарегистрированные полисы и итоги дня терминала (сверка итогов) "
            "по каждому киоску. Расхождения перечислены ниже.",
            lambda now: list(reports.reconciliation(now, days)),
        ),
        "health": ("Киоски", "", lambda now: [reports.health_table(now)]),
    }

    def make_table_page(slug: str) -> Callable[[Request], HTMLResponse]:
        title, intro, build = tables[slug]

        def view(request: Request) -> HTMLResponse:
            operator = operator_of(request)
            return page(request, "tables.html", operator, f"/dashboard/{slug}", title=title, intro=intro,
                        tables=build(clock()))  # fmt: skip

        return view

    for slug in tables:
        router.add_api_route(f"/dashboard/{slug}", make_table_page(slug), methods=["GET"], response_class=HTMLResponse)

    csv_sources: dict[str, Callable[[dt.datetime], Table]] = {
        "sales": lambda now: reports.sales_table(now, days),
        "kpi": reports.kpi_table,
        "renewals": reports.renewals_table,
        "lapsed": reports.lapsed_table,
        "reconciliation": lambda now: reports.reconciliation(now, days)[0],
        "mismatches": lambda now: reports.reconciliation(now, days)[1],
        "health": reports.health_table,
        "applications": lambda now: reports.applications_table()[0],
    }

    @router.get("/dashboard/{name}.csv")
    def export(request: Request, name: str) -> Response:
        operator_of(request)
        source = csv_sources.get(name)
        if source is None:
            raise HTTPException(404, "нет такой таблицы")
        return _csv(source(clock()))

    @router.get("/dashboard/applications", response_class=HTMLResponse)
    def applications(request: Request) -> HTMLResponse:
        operator = operator_of(request)
        table, rows = reports.applications_table()
        return page(request, "applications.html", operator, "/dashboard/applications", title="Заявления",
                    table=table, rows=rows, statuses=APPLICATION_STATUSES)  # fmt: skip

    @router.post("/dashboard/applications/{number}/status", response_model=None)
    def application_status(
        request: Request,
        number: str,
        status: Annotated[str, Form(max_length=32)] = "",
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        if not _csrf_ok(csrf_token, request.cookies.get(COOKIE), "dashboard"):
            return pages.refuse_form(request)
        operator = operator_of(request)
        if status not in APPLICATION_STATUSES:
            raise HTTPException(422, "недопустимый статус")
        try:
            registry.set_application_status(number, status, operator)
        except NotFoundError as exc:
            raise HTTPException(404, exc.message) from None
        return RedirectResponse("/dashboard/applications", status_code=303)


def _local(target: str) -> str:
    """Only redirect within this site (an open redirect would help phishing)."""
    return target if target.startswith("/") and not target.startswith("//") else "/dashboard"


def _alerts(reports: Reports, now: dt.datetime) -> list[tuple[str, str, str]]:
    alerts: list[tuple[str, str, str]] = []
    health = reports.health_table(now)
    for values, mark in zip(health.values, health.marks, strict=True):
        kiosk_id, link, _seen, printer, paper, terminal, *_ = values
        if mark == "offline":
            alerts.append(("bad", f"{kiosk_id}: {link}", "/dashboard/health"))
        if paper == "заканчивается":
            alerts.append(("warn", f"{kiosk_id}: бумага заканчивается", "/dashboard/health"))
        if printer.startswith("не готов"):
            alerts.append(("bad", f"{kiosk_id}: принтер {printer}", "/dashboard/health"))
        if terminal.startswith("не готов"):
            alerts.append(("bad", f"{kiosk_id}: терминал {terminal}", "/dashboard/health"))
    mismatches = reports.reconciliation(now, reports.settings.reports.chart_days)[1]
    if mismatches.values:
        alerts.append(("bad", f"Расхождений в сверке: {len(mismatches.values)}", "/dashboard/reconciliation"))
    return alerts
