"""Backend for ``zvt+tcp://host[:port]``: ZVT over TCP/IP (bare APDUs, default port 20007)."""

from __future__ import annotations

from typing import Any

from drivers.payment.ecr import ZvtTerminal
from drivers.payment.link import TcpLink
from drivers.payment.ports import SocketPort
from drivers.payment.url import TerminalUrl, common_options, reject_unknown

DEFAULT_PORT = 20007


def open_backend(url: TerminalUrl, **kw: Any) -> ZvtTerminal:
    """``open_terminal`` for zvt+tcp:// URLs. The ECR opens (and closes) the connection."""
    params = dict(url.params)
    connect_timeout = float(params.pop("connect_timeout", "5"))
    host, _, port = url.netloc.rpartition(":") if ":" in url.netloc else (url.netloc, "", "")
    if not host:
        raise ValueError(f"zvt+tcp:// needs a host: {url.raw!r}")
    options = common_options(params, kw)
    reject_unknown(url, params)
    sock = SocketPort.connect(host.strip("[]"), int(port or DEFAULT_PORT), connect_timeout)
    return ZvtTerminal(TcpLink(sock, options.get("timing")), **options)
