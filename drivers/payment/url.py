"""Terminal URLs: parsing and the options every ZVT backend shares.

Grammar (documented in README.md, "Card payment terminal"):

    zvt://<device path>?<options>            serial ZVT through pyserial's serial_for_url
    zvt+<pyserial scheme>://<rest>?<options> serial ZVT over any pyserial URL handler, e.g.
                                             zvt+spy:///dev/ttyUSB0?spy_file=/tmp/zvt.txt
                                             zvt+socket://host:port (a serial server), zvt+loop://
    zvt+tcp://<host>[:<port>]?<options>      ZVT over TCP (bare APDUs), port 20007 by default
    sim://terminal?<simulator options>&<options>
                                             start the simulator as a child process on a pty

Common options: password (6 digits), currency (ISO 4217 numeric, 643), t1 t2 t3 t4 (seconds),
repeats, goods_timeout (BMP 01, s), goods_asks (BMP 02), goods_hold (s, the "ask again" pause; default 3,
must stay below t3), charset (receipt text: cp437 default, cp866, cp1251, latin-1, iso8859-5, utf-8),
max_amount, tz (IANA zone of the terminal clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.payment.ecr import GoodsPolicy
from drivers.payment.link import Timing
from drivers.payment.messages import normalise_charset
from kiosk.money import AmountError, parse_amount


@dataclass(frozen=True)
class TerminalUrl:
    """A split terminal URL: ``scheme`` is the part before ``://`` (e.g. "zvt+spy")."""

    raw: str
    scheme: str
    netloc: str
    path: str
    params: dict[str, str]

    @property
    def base(self) -> str:
        return self.scheme.split("+", 1)[0]

    @property
    def variant(self) -> str | None:
        return self.scheme.split("+", 1)[1] if "+" in self.scheme else None


def parse_url(url: str) -> TerminalUrl:
    """Split a terminal URL; query keys are lower-cased, repeated keys keep the last value."""
    if "://" not in url:
        raise ValueError(f"not a terminal URL (no scheme): {url!r}")
    parts = urlsplit(url)
    params = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    return TerminalUrl(url, parts.scheme.lower(), parts.netloc, parts.path, params)


def _float(params: dict[str, str], key: str) -> float | None:
    if key not in params:
        return None
    try:
        return float(params.pop(key))
    except ValueError:
        raise ValueError(f"option {key} must be a number") from None


def common_options(params: dict[str, str], kw: dict[str, Any]) -> dict[str, Any]:
    """ZvtTerminal keyword arguments from URL options (consumed from ``params``); ``kw`` (from the
    caller of ``open_terminal``) wins over the URL."""
    options: dict[str, Any] = {}
    if "password" in params:
        options["password"] = params.pop("password")
    if "currency" in params:
        options["currency"] = int(params.pop("currency"))
    if "charset" in params:
        options["charset"] = normalise_charset(params.pop("charset"))
    if "tz" in params:
        try:
            options["tz"] = ZoneInfo(params.pop("tz"))
        except ZoneInfoNotFoundError as exc:
            raise ValueError(f"unknown time zone: {exc}") from None
    if "max_amount" in params:
        text = params.pop("max_amount")
        try:
            options["max_amount"] = parse_amount(text)
        except AmountError:
            raise ValueError(f"max_amount must be ASCII digits with at most two decimals, not {text!r}") from None
    if (timing := _timing(params)) is not None:
        options["timing"] = timing
    if (goods := _goods(params)) is not None:
        options["goods"] = goods
    options.update(kw)
    return options


def reject_unknown(url: TerminalUrl, params: dict[str, str]) -> None:
    """Options nobody consumed are typos: fail loudly rather than run with defaults."""
    if params:
        raise ValueError(f"unknown option(s) in {url.raw!r}: {', '.join(sorted(params))}")


def _timing(params: dict[str, str]) -> Timing | None:
    values: dict[str, Any] = {k: v for k in ("t1", "t2", "t3", "t4") if (v := _float(params, k)) is not None}
    if "repeats" in params:
        values["repeats"] = int(params.pop("repeats"))
    return Timing(**values) if values else None


def _goods(params: dict[str, str]) -> GoodsPolicy | None:
    values: dict[str, Any] = {}
    if (value := _float(params, "goods_timeout")) is not None:
        values["answer_timeout"] = int(value)
    if (value := _float(params, "goods_asks")) is not None:
        values["max_asks"] = int(value)
    if (value := _float(params, "goods_hold")) is not None:
        values["hold"] = value
    if not values:
        return None
    if "hold" not in values and "answer_timeout" in values:
        # Keep the default hold, but leave the terminal's shorter timeout room for the re-ask.
        values["hold"] = min(GoodsPolicy.hold, max(values["answer_timeout"] / 3, 0.5))
    return GoodsPolicy(**values)
