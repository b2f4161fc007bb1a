"""The operator dashboard and the public check in headless Chromium (Debian's chromium + chromedriver),
against the real server filled by real signed kiosk traffic. Each page is kept as a screenshot under
``artifacts/server/`` for a person to look at."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from kiosk.documents.policy import check_url
from tests.integration.server.conftest import fast_client, provision
from tests.support.sale_events import envelopes
from tests.support.server_process import ServerProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
        reason="Debian chromium and chromium-driver are not installed",
    ),
]

PASSWORD = "operator-pass-2026"
NOW = dt.datetime.now(dt.UTC)


def _events_for(kiosk_id: str, kiosk_no: int, sales: int, days_back: int) -> list[dict[str, Any]]:
    """Sales spread over the last ``days_back`` days (a few per day, varying by kiosk)."""
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")
    today = NOW.astimezone(moscow).date()
    out = []
    for index in range(sales):
        # Early morning, far from midnight, so a sale never straddles two days (nor two terminal batches).
        day = today - dt.timedelta(days=index % days_back)
        at = dt.datetime.combine(day, dt.time(3, 0), tzinfo=moscow) + dt.timedelta(minutes=7 * index)
        at = min(at, NOW - dt.timedelta(hours=1, minutes=index))
        out += envelopes(kiosk_id, 1, first=index, at=at - dt.timedelta(seconds=10 * index), kiosk_no=kiosk_no)
    return out


def _ending(events: list[dict[str, Any]], end: dt.datetime) -> list[dict[str, Any]]:
    """The same sale's events with the policy period moved to end at ``end``."""
    moved = copy.deepcopy(events)
    for event in moved:
        if event["kind"] == "policy.registered":
            event["payload"]["period_start"] = (end - dt.timedelta(days=365)).isoformat()
            event["payload"]["period_end"] = end.isoformat()
    return moved


def _health(kiosk_id: str, *, paper_low: bool, printer_ready: bool = True) -> dict[str, Any]:
    blocking = [] if printer_ready else ["paper_end"]
    return {
        "event_id": f"health-{kiosk_id}-{NOW.timestamp():.0f}",
        "kind": "device.health",
        "kiosk_id": kiosk_id,
        "sale_id": None,
        "created_at": NOW.isoformat(),
        "payload": {
            "printer": {
                "ready": printer_ready,
                "warnings": ["paper_near_end"] if paper_low else [],
                "blocking": blocking,
            },
            "terminal": {"ready": True, "reason": None},
            "paper_low": paper_low,
            "pending_outbox": 0 if printer_ready else 14,
            "tariff_version": "7204-U",
        },
    }


def _closings(kiosk_id: str, events: list[dict[str, Any]], *, short_last_by: str = "0") -> list[dict[str, Any]]:
    """The terminal's end of day at the close of each Moscow day (its batch: that day's payments)."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")
    days: dict[dt.date, list[Decimal]] = {}
    for event in events:
        if event["kind"] == "payment.committed":
            day = dt.datetime.fromisoformat(event["created_at"]).astimezone(moscow).date()
            days.setdefault(day, []).append(Decimal(event["payload"]["amount"]))
    out = []
    for number, day in enumerate(sorted(days), 1):
        at = min(dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=moscow), NOW).astimezone(dt.UTC)
        total = sum(days[day], Decimal(0)) - (Decimal(short_last_by) if day == max(days) else 0)
        out.append({
            "event_id": f"eod-{kiosk_id}-{day.isoformat()}",
            "kind": "terminal.end_of_day",
            "kiosk_id": kiosk_id,
            "sale_id": None,
            "created_at": at.isoformat(),
            "payload": {"count": len(days[day]), "amount": f"{total:.2f}", "at": at.isoformat(),
                        "groups": [{"card_type": "МИР", "count": len(days[day]), "amount": f"{total:.2f}"}],
                        "receipt_range": [f"{number:04d}", f"{number:04d}"], "terminal_id": "52500001"},
        })  # fmt: skip
    return out


@pytest.fixture(scope="module")
def filled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on SQLite with three kiosks' traffic: sales, renewals due, a lapsed policy, a mismatch."""
    root = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{root / 'server.db'}"
    server = ServerProcess(root / "server", url).start()
    try:
        batches: dict[str, list[dict[str, Any]]] = {}
        for number, kiosk_id in enumerate(("KIOSK-0001", "KIOSK-0002", "KIOSK-0003"), 1):
            provision(url, kiosk_id, root / f"{kiosk_id}.key", server.keyring())
            events = _events_for(kiosk_id, number, sales=40 - 12 * number, days_back=20)
            batches[kiosk_id] = events
        # Renewals due soon and one policy lapsed three days ago, at KIOSK-0001.
        extra = envelopes("KIOSK-0001", 3, first=500, at=NOW - dt.timedelta(days=363), kiosk_no=1)
        soon = _ending(extra[:5], NOW + dt.timedelta(days=5)) + _ending(extra[5:10], NOW + dt.timedelta(days=20))
        lapsed = _ending(extra[10:], NOW - dt.timedelta(days=3))
        for kiosk_id, sold in batches.items():
            # KIOSK-0002's terminal counted 1 500 roubles less on its last day: a mismatch to list.
            sold.extend(_closings(kiosk_id, sold, short_last_by="1500.00" if kiosk_id == "KIOSK-0002" else "0"))
        batches["KIOSK-0001"] += soon + lapsed
        batches["KIOSK-0001"].append(_health("KIOSK-0001", paper_low=False))
        batches["KIOSK-0002"].append(_health("KIOSK-0002", paper_low=True))
        batches["KIOSK-0003"].append(_health("KIOSK-0003", paper_low=True, printer_ready=False))
        for kiosk_id, events in batches.items():
            client = fast_client(server.url, kiosk_id, root / f"{kiosk_id}.key")
            for start in range(0, len(events), 100):
                client.json(client.request("POST", "/api/v1/events", body={"events": events[start : start + 100]},
                                           retry=True))  # fmt: skip
            if kiosk_id == "KIOSK-0001":
                client.json(client.request("POST", "/api/v1/applications", idempotency_key="KIOSK-0001:app-1",
                                           body={"sale_id": "app-1", "office": "Офис «Центральный»",
                                                 "premium": "9120.50"}))  # fmt: skip
            client.close()
        added = server.cli("operator", "add", "operator", "--password-stdin", input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        renewals = server.cli("renewals", "--date", NOW.date().isoformat(), "--workers", "2")
        assert renewals.returncode == 0, renewals.stdout + renewals.stderr
        assert "2 priced, 0 failed" in renewals.stdout
        assert "Продление" in renewals.stderr  # tqdm progress bar
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 "--lang=ru-RU", "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(artifacts_dir: Path) -> Path:
    folder = artifacts_dir / "server"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _shot(browser: Any, folder: Path, name: str) -> Path:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, max(700, min(int(height) + 40, 6000)))
    path = folder / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def _login(browser: Any, server: ServerProcess, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server.url}/dashboard")
    browser.find_element(By.ID, "username").send_keys("operator")
    browser.find_element(By.ID, "password").send_keys(password)
    button = browser.find_element(By.ID, "login")
    button.click()
    # The answer to the POST is a new page: wait until the old one is gone.
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))


def test_the_dashboard_needs_a_login_and_refuses_a_wrong_password(
    filled_server: ServerProcess, browser: Any, shots: Path
) -> None:
    browser.delete_all_cookies()
    browser.get(f"{filled_server.url}/dashboard/reconciliation")
    assert "/login" in browser.current_url
    _shot(browser, shots, "01-login")
    _login(browser, filled_server, password="wrong-password")
    assert "Неверное имя или пароль" in browser.page_source
    assert (
        requests.get(f"{filled_server.url}/dashboard/sales.csv", timeout=10, allow_redirects=False).status_code == 303
    )


def test_every_dashboard_page_shows_its_report(filled_server: ServerProcess, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    _login(browser, filled_server)
    assert browser.current_url.endswith("/dashboard")
    overview = browser.find_element(By.TAG_NAME, "main").text
    assert "План" in overview and "выполнено" in overview and "Осталось" in overview
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    assert "KIOSK-0003: принтер не готов" in overview
    assert "бумага заканчивается" in overview
    assert "Расхождений в сверке" in overview
    _shot(browser, shots, "02-overview")

    expected = {
        "sales": ["Продажи по киоскам и дням", "KIOSK-0002"],
        "renewals": ["истекающие в ближайшие 30 дней", "Не продлены", "Тестов И."],
        "reconciliation": ["расхождение", "итоги терминала", "оплат в журнале"],
        "health": ["Состояние киосков", "заканчивается", "нет бумаги"],
        "applications": ["A-", "в обработке"],
    }
    for number, (slug, texts) in enumerate(expected.items(), 3):
        browser.get(f"{filled_server.url}/dashboard/{slug}")
        text = browser.find_element(By.TAG_NAME, "main").text
        for snippet in texts:
            assert snippet in text, f"{slug}: {snippet!r} not on the page"
        _shot(browser, shots, f"{number:02d}-{slug}")

    browser.get(f"{filled_server.url}/dashboard/reconciliation")
    mismatches = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#mismatches tbody tr")]
    assert len(mismatches) == 1 and "KIOSK-0002" in mismatches[0] and "-1 500,00" in mismatches[0]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reconciliation tr.mismatch")) == 1

    browser.get(f"{filled_server.url}/dashboard/renewals")
    rows = browser.find_elements(By.CSS_SELECTOR, "#renewals tbody tr")
    assert len(rows) == 2
    assert all("не рассчитана" not in row.text for row in rows)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lapsed tbody tr")) == 1


def test_an_operator_decides_an_application_from_the_dashboard(
    filled_server: ServerProcess, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.delete_all_cookies()
    _login(browser, filled_server)
    browser.get(f"{filled_server.url}/dashboard/applications")
    row = browser.find_element(By.CSS_SELECTOR, "#applications tbody tr")
    Select(row.find_element(By.TAG_NAME, "select")).select_by_visible_text("исполнена")
    button = row.find_element(By.TAG_NAME, "button")
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))

    assert "исполнена" in browser.find_element(By.CSS_SELECTOR, "#applications tbody tr").text
    assert "operator" in browser.find_element(By.CSS_SELECTOR, "#applications tbody tr").text


def test_each_table_exports_as_csv(filled_server: ServerProcess, browser: Any) -> None:
    browser.delete_all_cookies()
    _login(browser, filled_server)
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    for name, header in [("sales", "Киоск"), ("kpi", "План, руб."), ("renewals", "Полис"), ("lapsed", "Истёк"),
                         ("reconciliation", "Сумма оплат"), ("mismatches", "Что не сходится"),
                         ("health", "Бумага"), ("applications", "Статус")]:  # fmt: skip
        response = requests.get(f"{filled_server.url}/dashboard/{name}.csv", cookies=cookies, timeout=10)
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        assert header in rows[0], (name, rows[0])
        assert len(rows) > 1, f"{name}.csv has no data rows"


def test_the_public_check_reads_the_printed_qr_url(filled_server: ServerProcess, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    # A policy this server knows (from KIOSK-0001's events) and one only RSA AIS knows.
    browser.get(check_url(f"{filled_server.url}/check", "ТТТ", "0001000003"))
    assert browser.find_element(By.ID, "status").text in ("Действует", "Ожидает начала действия")
    assert "XTA**********0003" in browser.page_source
    assert "А0**ВС 77" in browser.page_source
    _shot(browser, shots, "08-check-own-policy")

    browser.get(f"{filled_server.url}/check?number={quote('ТТТ 7012345678')}")
    assert "ПАО «Другая страховая»" in browser.page_source
    _shot(browser, shots, "09-check-rsa-policy")

    browser.get(f"{filled_server.url}/check?number={quote('ХХХ9999999999')}")
    assert "не найден" in browser.find_element(By.ID, "not-found").text
    _shot(browser, shots, "10-check-not-found")
