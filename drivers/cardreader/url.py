"""Card reader URLs: ``pcsc://[?reader=PREFIX&allow_virtual=1&poll=0.5]`` and ``sim://cardreader``."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from drivers.cardreader.errors import ReaderURLError

__all__ = ["BOOLEAN_WORDS", "ReaderURL", "parse_url"]

BOOLEAN_WORDS: dict[str, bool] = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
#: query parameters each scheme accepts
_PARAMS: dict[str, frozenset[str]] = {
    "pcsc": frozenset({"reader", "allow_virtual", "poll", "backoff_max"}),
    "sim": frozenset({"name"}),
}


@dataclass(frozen=True, slots=True)
class ReaderURL:
    """A parsed card reader URL."""

    scheme: str
    host: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query parameter's value."""
        return self.params.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (1/0, true/false, yes/no)."""
        value = self.params.get(name)
        if value is None:
            return default
        try:
            return BOOLEAN_WORDS[value.lower()]
        except KeyError:
            raise ReaderURLError(f"{self.text}: {name}={value!r} is not a yes/no value") from None

    def seconds(self, name: str, default: float, *, low: float, high: float) -> float:
        """A duration in seconds, checked against its range."""
        value = self.params.get(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ReaderURLError(f"{self.text}: {name}={value!r} is not a number") from None
        if not low <= number <= high:
            raise ReaderURLError(f"{self.text}: {name} must lie between {low} and {high} seconds")
        return number


def parse_url(url: str) -> ReaderURL:
    """Parse and validate a card reader URL (grammar in ``drivers.cardreader``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _PARAMS:
        raise ReaderURLError(f"{url}: unknown card reader URL scheme {scheme!r}; use pcsc:// or sim://cardreader")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ReaderURLError(f"{url}: malformed query") from None
    params: dict[str, str] = {}
    for key, values in query.items():
        if key not in _PARAMS[scheme]:
            raise ReaderURLError(f"{url}: unknown parameter {key!r} (known: {', '.join(sorted(_PARAMS[scheme]))})")
        if len(values) > 1:
            raise ReaderURLError(f"{url}: parameter {key!r} given twice")
        params[key] = values[0]
    host = parts.netloc
    if scheme == "pcsc" and (host or parts.path not in ("", "/")):
        raise ReaderURLError(f"{url}: a PC/SC URL names no host or path; choose a reader with ?reader=PREFIX")
    if scheme == "sim" and (host != "cardreader" or parts.path not in ("", "/")):
        raise ReaderURLError(f"{url}: the simulator URL is sim://cardreader")
    return ReaderURL(scheme, host, params, url)
