"""Calls to the exchange's HTTP API on behalf of the web app's users (never its database)."""

from __future__ import annotations

import functools
import ssl
import threading
from dataclasses import dataclass

import httpx

# Forwarded back to the browser as the exchange sent them.
FORWARDED_RESPONSE_HEADERS = ("content-type", "retry-after", "location")
# An idle kept-alive connection is given up before the exchange's server closes it (uvicorn:
# after 5 s). At the same expiry the two race: a request sent just as the server closes the
# connection fails without an answer.
KEEPALIVE_EXPIRY_S = 2.0
# Methods sent a second time, on a new connection, when a reused connection was closed before
# any answer came: the exchange cannot have acted on a request it never read, and these change
# nothing anyway. An order (POST) is never repeated here; its client_order_id is for that.
RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ExchangeUnavailable(Exception):
    """The exchange did not answer (down, refused, timed out); ``code`` says which."""

    def __init__(
        self, code: str, message: str, base_url: str = "", timeout_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.base_url = base_url  # for the operator's sentence in the page's language
        self.timeout_s = timeout_s


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
            # httpx's default pool sizes; only the keep-alive expiry differs.
            limits=httpx.Limits(
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            ),
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
        send = functools.partial(
            self._http.request,
            method,
            path,
            params=params,
            content=content,
            json=json,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        try:
            try:
                r = send()
            except httpx.RemoteProtocolError:
                # "Server disconnected without sending a response": the server closed an idle
                # connection as this request went out. A read goes once more, on a new one.
                if method.upper() not in RETRIED_METHODS:
                    raise
                r = send()
        except httpx.TimeoutException as exc:
            waited = timeout or self._http.timeout.read
            raise ExchangeUnavailable(
                "EXCHANGE_TIMEOUT",
                f"The exchange at {self.base_url} did not answer within "
                f"{waited} s ({type(exc).__name__}).",
                self.base_url,
                waited,
            ) from exc
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(
                "EXCHANGE_UNAVAILABLE",
                f"The exchange at {self.base_url} cannot be reached: {exc or type(exc).__name__}.",
                self.base_url,
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
