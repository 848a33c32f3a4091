"""A polite HTTP client for price providers: at most one request per interval, retries with
exponential backoff and jitter on 429 / 5xx / network errors, typed errors for everything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from .model import (
    AuthError,
    BadRequestError,
    FeedError,
    NetworkError,
    RateLimitedError,
    UpstreamError,
)

log = logging.getLogger("phoenyra.feed")


class _Retryable(Exception):
    def __init__(self, error: FeedError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class PoliteClient:
    """GETs spaced at least ``min_interval`` apart (ENTSO-E allows one request per second)."""

    def __init__(
        self,
        provider: str,
        *,
        min_interval: float = 1.0,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.provider = provider
        self.min_interval = min_interval
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._client = client or httpx.AsyncClient(
            timeout=timeout,
            headers={"User-Agent": "phoenyra-bess-trade market feed"},
            follow_redirects=True,
        )
        self._lock = asyncio.Lock()
        self._last = float("-inf")
        self.requests = 0  # sent, for logs and tests

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _spaced_get(self, url: str, params: dict[str, Any] | None) -> httpx.Response:
        # One request at a time, the next one ``min_interval`` after the previous one ended:
        # stricter than spacing the starts, so connection set-up never squeezes the gap.
        async with self._lock:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.requests += 1
            try:
                return await self._client.get(url, params=params)
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    NetworkError(f"{self.provider}: no answer in time ({exc})")
                ) from exc
            except httpx.TransportError as exc:
                raise _Retryable(
                    NetworkError(
                        f"{self.provider}: cannot reach {url} ({type(exc).__name__}: {exc})"
                    )
                ) from exc
            finally:
                self._last = time.monotonic()

    def _wait(self, state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)(state)
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return max(backoff, min(exc.retry_after, self.max_backoff))
        return backoff

    async def get(
        self, url: str, params: dict[str, Any] | None = None, *, classify=None
    ) -> httpx.Response:
        """A 2xx response, or a FeedError. ``classify(response)`` may turn a non-2xx body into a
        more precise error (ENTSO-E explains some refusals in an XML body)."""
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_Retryable),
                wait=self._wait,
                stop=stop_after_attempt(self.attempts),
                reraise=False,
            ):
                with attempt:
                    response = await self._spaced_get(url, params)
                    self._check(response, classify)
                    return response
        except RetryError as exc:
            last = exc.last_attempt.exception()
            assert isinstance(last, _Retryable)
            raise last.error from None
        raise AssertionError("unreachable")

    def _check(self, response: httpx.Response, classify) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if classify is not None:
            error = classify(response)
            if error is not None:
                raise error
        name = self.provider
        if status in (401, 403):
            raise AuthError(f"{name}: HTTP {status}, the token or key was refused; check it")
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise _Retryable(RateLimitedError(f"{name}: HTTP 429, too many requests"), retry_after)
        if status >= 500:
            raise _Retryable(UpstreamError(f"{name}: HTTP {status} from the provider"))
        raise BadRequestError(f"{name}: HTTP {status}: {response.text[:200].strip()}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff
