"""Calls to the exchange's HTTP API on behalf of the web app's users (never its database)."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass

import httpx

# Forwarded back to the browser as the exchange sent them.
FORWARDED_RESPONSE_HEADERS = ("content-type", "retry-after", "location")


class ExchangeUnavailable(Exception):
    """The exchange did not answer (down, refused, timed out); ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class ExchangeResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self):
        import json

        return json.loads(self.body) if self.body else None


class ExchangeClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"X-API-Key": api_key} if api_key else {},
            timeout=timeout_s,
            verify=verify,
        )
        self._desk_account_id: int | None = None
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        content: bytes | None = None,
        json: object | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> ExchangeResponse:
        """``timeout``: seconds for this request instead of the client's (a slow endpoint)."""
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            r = self._http.request(
                method,
                path,
                params=params,
                content=content,
                json=json,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TimeoutException as exc:
            raise ExchangeUnavailable(
                "EXCHANGE_TIMEOUT",
                f"The exchange at {self.base_url} did not answer within "
                f"{timeout or self._http.timeout.read} s ({type(exc).__name__}).",
            ) from exc
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(
                "EXCHANGE_UNAVAILABLE",
                f"The exchange at {self.base_url} cannot be reached: {exc or type(exc).__name__}.",
            ) from exc
        headers_out = {
            k: v for k, v in r.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS
        }
        return ExchangeResponse(r.status_code, r.content, headers_out)

    def desk_account_id(self) -> int:
        """The exchange account behind API_KEY: the account all web app users trade as."""
        with self._lock:
            if self._desk_account_id is None:
                r = self.request("GET", "/api/accounts/me")
                if r.status != 200:
                    raise ExchangeUnavailable(
                        "EXCHANGE_REFUSED_KEY",
                        f"The exchange refused the web app's API_KEY ({r.status}): "
                        f"{r.body[:200].decode(errors='replace')}",
                    )
                self._desk_account_id = int(r.json()["id"])
            return self._desk_account_id

    def set_desk_account_id(self, account_id: int) -> None:
        with self._lock:
            self._desk_account_id = account_id

    def close(self) -> None:
        self._http.close()
