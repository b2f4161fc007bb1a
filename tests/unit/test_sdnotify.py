"""sd_notify rules without a socket: when the watchdog is ours, its interval, rate limiting."""

from __future__ import annotations

import pytest

from kiosk.sdnotify import Notifier, Watchdog, watchdog_interval


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "100"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, None),
        ({}, None),
    ],
    ids=["usec-only", "pid-is-us", "pid-is-parent", "pid-is-another", "zero", "negative", "text", "bad-pid", "none"],
)
def test_the_watchdog_is_ours_only_by_the_sd_watchdog_enabled_rules(
    env: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(env, pid=100, ppid=1) == expected


def test_without_a_notify_socket_nothing_is_sent_and_no_interval_is_given() -> None:
    watchdog = Watchdog(env={"WATCHDOG_USEC": "1000000"})

    assert watchdog.interval is None
    assert watchdog.tick() is False
    assert Notifier({}).ready() is False


def test_a_relative_notify_socket_is_refused() -> None:
    assert not Notifier({"NOTIFY_SOCKET": "relative/path"}).enabled


def test_a_multi_line_value_is_refused() -> None:
    with pytest.raises(ValueError, match="one line"):
        Notifier({"NOTIFY_SOCKET": "/nonexistent"}).status("two\nlines")


def test_ticks_more_often_than_half_the_interval_send_one_ping() -> None:
    now = [0.0]
    sent: list[str] = []

    class Recording(Notifier):
        def watchdog(self) -> bool:
            sent.append("WATCHDOG=1")
            return True

    watchdog = Watchdog(
        Recording({"NOTIFY_SOCKET": "/run/fake"}),
        env={"WATCHDOG_USEC": "2000000"},
        monotonic=lambda: now[0],
    )
    for step in range(10):  # ten ticks over 0.45 s: one ping
        now[0] = step * 0.05
        watchdog.tick()
    now[0] = 0.5
    watchdog.tick()

    assert watchdog.interval == 1.0
    assert len(sent) == 2
