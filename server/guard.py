"""What every request meets before the application: bounded bodies, kiosk signatures, security headers.

``RequestGuard`` (pure ASGI, outside FastAPI) reads each request body itself, counting while it reads,
and answers 413 as soon as the body passes the limit of its route class (a declared Content-Length
over the limit is refused before a byte is read), so a stranger's 200 MB post costs the server
nothing but the limit. A kiosk request (``/api/v1``) is checked in the order that costs least:

1. the signature headers are there and well formed, and the timestamp is inside the window — else
   401 at once, the body unread;
2. the kiosk is looked up (an unknown or disabled kiosk gets a dummy secret, so what follows takes
   the same path and time: nobody learns which kiosk ids exist);
3. the body is read, bounded;
4. its hash and the HMAC are checked (``hmac.compare_digest``) and the nonce is spent;
5. only then does the application parse the JSON.

Every authentication failure gets the same answer (``REFUSED``); the reason goes to the log only.

``SecurityHeaders`` adds the browser policy to every answer: a Content-Security-Policy without inline
script or style, no framing, no referrer, no MIME sniffing, no caching of operator pages, and HSTS on
HTTPS.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiosk.signing import SignatureError, SignedHeaders
from server.auth import KioskAuthenticator

__all__ = ["API_PREFIX", "KIOSK_SCOPE_KEY", "REFUSED", "BodyLimits", "RequestGuard", "SecurityHeaders", "raw_target"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
#: where the guard leaves the id of the kiosk whose signature verified
KIOSK_SCOPE_KEY = "osago.kiosk_id"
#: the one answer to every refused kiosk request (unsigned, malformed, stale, unknown, disabled, bad, replayed)
REFUSED = "запрос не принят: подпись не подтверждена"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Body size limits per route class, bytes."""

    kiosk_batch: int
    kiosk_request: int
    form: int
    other: int

    def for_request(self, method: str, path: str) -> int:
        """The limit of a request's route class."""
        if path.startswith(API_PREFIX):
            return self.kiosk_batch if method == "POST" and path == f"{API_PREFIX}events" else self.kiosk_request
        if method == "POST" and (path in ("/login", "/logout") or path.startswith("/dashboard/")):
            return self.form
        return self.other


class _DisconnectedError(Exception):
    """The client went away while sending its body."""


class _TooLargeError(Exception):
    """The body passed its limit."""


def raw_target(scope: Scope) -> str:
    """The path and query exactly as the kiosk sent and signed them."""
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def _read_body(receive: Receive, limit: int, *, keep: bool = True) -> tuple[bytes | None, str]:
    """(the body, its hex SHA-256) — the body is None past ``limit`` (the rest is never read) or when not kept.

    Hashed as it arrives: a body nobody will use (an unknown kiosk's) is never held in memory.
    """
    body = bytearray()
    digest = hashlib.sha256()
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        digest.update(chunk)
        if keep:
            body += chunk
        if not message.get("more_body", False):
            return (bytes(body) if keep else None), digest.hexdigest()


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the application the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestGuard:
    """Bounded bodies for every request; signature checks for the kiosk API (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, authenticator: KioskAuthenticator) -> None:
        self.app = app
        self.limits = limits
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        api = path.startswith(API_PREFIX)
        limit = self.limits.for_request(method, path)
        headers = Headers(scope=scope)
        try:
            declared = int(headers.get("content-length", "0"))
        except ValueError:
            await _answer(scope, receive, send, 400, "Content-Length is not a number", api=api)
            return
        try:
            if api:
                await self._kiosk_request(scope, receive, send, signed_headers=headers, declared=declared, limit=limit)
                return
            if declared > limit:
                raise _TooLargeError
            body, _digest = await _read_body(receive, limit)
        except _DisconnectedError:
            return
        except _TooLargeError:
            await _too_large(scope, receive, send, limit, api=api)
            return
        assert body is not None
        await self.app(scope, _replay(body, receive), send)

    async def _kiosk_request(
        self, scope: Scope, receive: Receive, send: Send, *, signed_headers: Headers, declared: int, limit: int
    ) -> None:
        method = scope["method"]
        try:
            signed = SignedHeaders.parse(signed_headers)
            self.authenticator.check_window(signed)
        except SignatureError as exc:
            await self._refuse(scope, receive, send, exc)
            return
        if declared > limit:
            raise _TooLargeError
        secret = await run_in_threadpool(self.authenticator.secret_of, signed.kiosk_id)
        body, digest = await _read_body(receive, limit, keep=secret is not None)
        try:
            kiosk_id = await run_in_threadpool(
                self.authenticator.verify, signed, secret, method, raw_target(scope), digest
            )
        except SignatureError as exc:
            await self._refuse(scope, receive, send, exc, kiosk=signed.kiosk_id)
            return
        assert body is not None
        scope[KIOSK_SCOPE_KEY] = kiosk_id
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: SignatureError, kiosk: str = "") -> None:
        client = (scope.get("client") or ("?", 0))[0]
        log.info(
            "refused kiosk request %s %s from %s %s: %s", scope["method"], scope["path"], client, kiosk, exc.reason
        )
        await _answer(scope, receive, send, 401, REFUSED, api=True)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, *, api: bool) -> None:
    log.info("refused %s %s: body over %d bytes", scope["method"], scope["path"], limit)
    await _answer(scope, receive, send, 413, f"тело запроса больше {limit} байт", api=api)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, text: str, *, api: bool) -> None:
    # Connection: close, so the server does not go on reading what the client still sends.
    response: Response
    if api:
        response = JSONResponse({"detail": text}, status_code=status, headers={"Connection": "close"})
    else:
        response = PlainTextResponse(text, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)


#: the browser policy: nothing inline, nothing from elsewhere, no framing
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_ALWAYS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_PRIVATE_PREFIXES = ("/dashboard", "/login", "/logout", "/api/")


class SecurityHeaders:
    """Adds the security headers to every HTTP answer (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith(_PRIVATE_PREFIXES)
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = list(_ALWAYS)
                if private:
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
