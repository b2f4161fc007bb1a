"""The insurer gateway over HTTP: the central server's kiosk API, every request signed with the kiosk's secret.

``ServerClient`` is the signed transport (requests): connect and read timeouts, and retries with
exponential backoff (an urllib3 ``Retry`` decides and paces them) for calls that are safe to repeat —
reads, and writes that carry an Idempotency-Key. Each attempt is signed afresh (new timestamp and
nonce), so a retry is never mistaken for a replay. ``HttpInsurerGateway`` implements ``InsurerGateway``
on it; ``kiosk.sync`` uses the same client for the outbox, application statuses and tariff bundles.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util.retry import Retry

from kiosk.insurer.port import (
    ApplicationReceipt,
    GatewayRejectedError,
    GatewayUnavailableError,
    KbmAnswer,
    KbmQuery,
    PolicyContract,
    RegisteredPolicy,
)
from kiosk.signing import read_key_file, sign

__all__ = ["HttpInsurerGateway", "KioskAuth", "ServerClient", "ServerRefusedError", "ServerUnreachableError"]

log = logging.getLogger(__name__)

#: failures of the transport: the request may or may not have reached the server (a cut answer is one)
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: statuses worth another attempt: the server or a proxy in front of it is restarting or overloaded
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ServerUnreachableError(GatewayUnavailableError):
    """No answer from the server (connection refused or dropped, timeout, 5xx after every retry)."""


class ServerRefusedError(GatewayRejectedError):
    """The server answered with a refusal (signature, validation, conflict); ``status`` is the HTTP code."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class KioskAuth(requests.auth.AuthBase):
    """Signs a prepared request (method, path with query as sent, body) with the kiosk's secret."""

    def __init__(self, kiosk_id: str, secret: bytes) -> None:
        self.kiosk_id = kiosk_id
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = sign(self.secret, self.kiosk_id, request.method or "GET", request.path_url, body)
        request.headers.update(headers)
        return request


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, default=_json_default, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class ClientSettings:
    """Timeouts and retry pacing of the server client."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 4
    backoff: float = 0.5
    backoff_max: float = 10.0


class ServerClient:
    """Signed HTTP calls to the central server."""

    def __init__(
        self,
        base_url: str,
        kiosk_id: str,
        secret: bytes,
        settings: ClientSettings | None = None,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"server URL must be http(s)://host[:port][/prefix], not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self.settings = settings or ClientSettings()
        self.session = session or requests.Session()
        # No retries inside urllib3: a resent request must carry a fresh signature (see request()).
        adapter = HTTPAdapter(max_retries=0, pool_connections=2, pool_maxsize=4)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth = KioskAuth(kiosk_id, secret)

    @classmethod
    def from_key_file(
        cls, base_url: str, kiosk_id: str, key_file: str | Path, settings: ClientSettings | None = None
    ) -> ServerClient:
        """A client whose secret is read from the kiosk's key file (64 hex digits, mode 0600)."""
        return cls(base_url, kiosk_id, read_key_file(key_file, error=GatewayRejectedError), settings)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def _policy(self, retryable: bool) -> Retry:
        return Retry(
            total=self.settings.retries if retryable else 0,
            backoff_factor=self.settings.backoff,
            backoff_max=self.settings.backoff_max,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # every method we mark retryable is idempotent by its key
            respect_retry_after_header=True,
            raise_on_status=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        retry: bool | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send a signed request; retries reads and keyed writes. Raises ``ServerUnreachableError``."""
        url = f"{self.base_url}{path}"
        data = None if body is None else _dumps(body)
        all_headers = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            all_headers["Idempotency-Key"] = idempotency_key
        retryable = retry if retry is not None else (method == "GET" or idempotency_key is not None)
        policy = self._policy(retryable)
        timeouts = timeout or (self.settings.connect_timeout, self.settings.read_timeout)
        while True:
            prepared = self.session.prepare_request(
                requests.Request(method, url, data=data, params=params, headers=all_headers, auth=self.auth)
            )
            try:
                response = self.session.send(prepared, timeout=timeouts)
            except _TRANSPORT_ERRORS as exc:
                try:
                    policy = policy.increment(method, url, error=ProtocolError(str(exc)))
                except MaxRetryError:
                    raise ServerUnreachableError(f"server unreachable: {_reason(exc)}") from None
                log.info("server call %s %s failed (%s); retrying", method, path, _reason(exc))
                policy.sleep()
                continue
            if policy.is_retry(method, response.status_code, "Retry-After" in response.headers):
                try:
                    policy = policy.increment(method, url, response=response.raw)
                except MaxRetryError:
                    raise ServerUnreachableError(f"server answered HTTP {response.status_code}") from None
                log.info("server call %s %s answered %s; retrying", method, path, response.status_code)
                policy.sleep(response.raw)
                continue
            return response

    def json(self, response: requests.Response) -> Any:
        """The JSON body of a successful answer; ``ServerRefusedError`` for a 4xx, unreachable for a 5xx."""
        if response.status_code >= 500:
            raise ServerUnreachableError(f"server answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ServerRefusedError(response.status_code, _detail(response))
        try:
            return response.json()
        except ValueError:
            raise ServerUnreachableError("server answered with something that is not JSON") from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Connection reset", "Remote end closed", "Connection aborted",
                   "Connection broken"):  # fmt: skip
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _detail(response: requests.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
    return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)[:300]


def _registered(doc: Mapping[str, Any]) -> RegisteredPolicy:
    return RegisteredPolicy(str(doc["series"]), str(doc["number"]), dt.datetime.fromisoformat(doc["registered_at"]))


class HttpInsurerGateway:
    """``InsurerGateway`` through the central server."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    def available(self) -> bool:
        """The server answers and RSA AIS behind it too (one quick try: this is the sale's preflight)."""
        try:
            response = self.client.request("GET", "/api/v1/status", retry=False, timeout=(2.0, 5.0))
            return bool(self.client.json(response).get("rsa_available"))
        except (GatewayUnavailableError, GatewayRejectedError) as exc:
            log.warning("insurer not available: %s", exc)
            return False

    def kbm_lookup(self, queries: Sequence[KbmQuery], on: dt.date) -> list[KbmAnswer]:
        """КБМ classes from RSA AIS through the server, in the order asked."""
        body = {
            "on": on,
            "people": [{"document": q.document, "last_name": q.last_name, "birth_date": q.birth_date} for q in queries],
        }
        response = self.client.request("POST", "/api/v1/kbm", body=body, retry=True)
        if response.status_code == 503:
            raise ServerUnreachableError("RSA AIS unavailable")
        answers = self.client.json(response)["answers"]
        return [KbmAnswer(str(a["kbm_class"]), str(a["request_id"]), bool(a["found"])) for a in answers]

    def register_policy(self, contract: PolicyContract, *, idempotency_key: str) -> RegisteredPolicy:
        """Register the contract; the key makes a repeated call return the same number."""
        body = {
            "sale_id": contract.sale_id,
            "period_start": contract.period_start,
            "period_end": contract.period_end,
            "premium": contract.premium,
            "tariff_version": contract.tariff_version,
            "coefficients": contract.coefficients,
            "vehicle": contract.vehicle,
            "policyholder": contract.policyholder,
            "owner": contract.owner,
            "drivers": list(contract.drivers) if contract.drivers is not None else None,
            "extra": contract.extra,
        }
        response = self.client.request("POST", "/api/v1/policies", body=body, idempotency_key=idempotency_key)
        return _registered(self.client.json(response))

    def find_policy(self, idempotency_key: str) -> RegisteredPolicy | None:
        """The policy registered with this key, if any (never registers)."""
        response = self.client.request("GET", "/api/v1/policies/by-key", params={"key": idempotency_key})
        if response.status_code == 404:
            return None
        return _registered(self.client.json(response))

    def cancel_policy(self, series: str, number: str, *, reason: str, idempotency_key: str) -> None:
        """Annul a policy (idempotent)."""
        body = {"series": series, "number": number, "reason": reason[:500]}
        response = self.client.request("POST", "/api/v1/policies/cancel", body=body, idempotency_key=idempotency_key)
        self.client.json(response)

    def submit_application(
        self, sale_id: str, data: dict[str, Any], *, office: str, idempotency_key: str
    ) -> ApplicationReceipt:
        """File an application; the server gives the number."""
        body = {"sale_id": sale_id, "office": office[:500], "data": json.loads(_dumps(data))}
        response = self.client.request("POST", "/api/v1/applications", body=body, idempotency_key=idempotency_key)
        doc = self.client.json(response)
        return ApplicationReceipt(str(doc["number"]), str(doc["status"]), str(doc["office"]))
