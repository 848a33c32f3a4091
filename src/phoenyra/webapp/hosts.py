"""The Host names the web app answers to (``WEBAPP_ALLOWED_HOSTS``).

A web page elsewhere can point its own DNS name at the web app's address (DNS rebinding): the
browser then talks to the web app as if it were that page's site, from inside the user's
network, and sends that site's name as ``Host``. In development the web app has no sign-in, so
such a page could read and trade; elsewhere it reaches the sign-in form and the unauthenticated
endpoints. A Host allow-list stops it: the attacker cannot make the browser send our names.

The check wraps everything the process serves (pages, the API pass-through, Socket.IO, static
files, /metrics) and runs after a trusted proxy's ``X-Forwarded-Host`` has been applied. It
uses Werkzeug's own Host validation (``get_host``/``host_is_trusted``, what Flask's
``TRUSTED_HOSTS`` uses; Flask applies that only inside request dispatch, after the
before-request hooks, and never to Socket.IO). IPv6 literals are compared here because
Werkzeug's list matching cuts a trusted entry at its first colon, so ``[::1]`` never matches.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

log = logging.getLogger("phoenyra.webapp.hosts")

SETTING = "WEBAPP_ALLOWED_HOSTS"
# Always allowed: DNS rebinding cannot produce them, and the container health check and local
# tools use them.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Listening on every address says nothing about the name clients use.
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_EXAMPLES = "e.g. trade.example.com, .example.com with its subdomains, 192.0.2.10, [2001:db8::1]"
# Paths whose answers are JSON (auth.wants_json asks the same for Flask's requests).
_JSON_PATHS = ("/orders", "/trades", "/market/prices")


def normalize_entry(raw: str) -> str:
    """One allow-list entry in the form the check compares: lower case, IDNA (punycode), IPv6
    in brackets. Raise ValueError saying what is wrong with it."""
    entry = raw.strip().lower()
    if "://" in entry or "/" in entry:
        raise ValueError(f"{raw!r} is a URL; give only the host name ({_EXAMPLES})")
    if entry.startswith("*."):
        raise ValueError(
            f"{raw!r}: write {entry[1:]!r} (a leading dot) for a domain and its subdomains"
        )
    if "*" in entry:
        raise ValueError(f"{raw!r}: '*' is not supported; list the names ({_EXAMPLES})")
    subdomains = entry.startswith(".")
    body = entry[1:] if subdomains else entry
    bare = body[1:-1] if body.startswith("[") and body.endswith("]") else body
    if ":" in bare:  # an IPv6 address, or a name with a port
        try:
            address = ipaddress.IPv6Address(bare)
        except ValueError:
            raise ValueError(
                f"{raw!r} is not a host name or an IP address (no port: any port is accepted; "
                f"{_EXAMPLES})"
            ) from None
        if subdomains:
            raise ValueError(f"{raw!r}: an IP address has no subdomains; drop the leading dot")
        return f"[{address.compressed}]"
    try:
        body = body.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{raw!r} is not a valid host name ({_EXAMPLES})") from None
    if not _HOST_NAME.fullmatch(body):
        raise ValueError(f"{raw!r} is not a valid host name ({_EXAMPLES})")
    if subdomains:
        try:
            ipaddress.IPv4Address(body)
        except ValueError:
            return f".{body}"
        raise ValueError(f"{raw!r}: an IP address has no subdomains; drop the leading dot")
    return body


def parse_allowed_hosts(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``WEBAPP_ALLOWED_HOSTS``: comma-separated entries (empty items are ignored, so a trailing
    comma or an unset variable is fine)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{item!r} is not a host name")
        if item.strip():
            out.append(normalize_entry(item))
    return tuple(dict.fromkeys(out))


def is_json_path(path: str) -> bool:
    return path.startswith("/api/") or path in _JSON_PATHS


class AllowedHosts:
    """The allow-list and the WSGI middleware that enforces it; counts what it refused."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(dict.fromkeys(normalize_entry(e) for e in entries))
        self._names = [e for e in self.entries if not e.startswith("[")]
        self._ipv6 = {ipaddress.IPv6Address(e[1:-1]) for e in self.entries if e.startswith("[")}
        self._lock = threading.Lock()
        self.refused = 0

    @classmethod
    def for_app(cls, configured: Iterable[str], listen_host: str | None) -> AllowedHosts:
        """The local names, the address the app listens on (when it names one) and the
        configured entries."""
        entries = list(LOCAL_HOSTS)
        if listen_host and listen_host.strip().lower() not in _ANY_ADDRESS:
            try:
                entries.append(normalize_entry(listen_host))
            except ValueError:
                log.warning("listen address %r is not usable as a Host name", listen_host)
        return cls([*entries, *configured])

    def permits(self, environ: dict) -> bool:
        # An empty list would make Werkzeug trust every host: only ask it with names to match.
        if self._names:
            try:
                get_host(environ, self._names)
                return True
            except SecurityError:
                pass
        if not self._ipv6:
            return False
        host = get_host(environ)  # without a list: the validated host:port, or ""
        if not host.startswith("["):
            return False
        try:
            return ipaddress.IPv6Address(urlsplit(f"//{host}").hostname or "") in self._ipv6
        except ValueError:
            return False

    def middleware(self, wsgi_app):
        def check_host(environ, start_response):
            if self.permits(environ):
                return wsgi_app(environ, start_response)
            return self._refusal(environ)(environ, start_response)

        return check_host

    def _refusal(self, environ: dict) -> Response:
        with self._lock:
            self.refused += 1
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
        host = host[:200]
        path = environ.get("PATH_INFO", "")
        log.info("request for a host that is not allowed", extra={"host": host, "path": path})
        message = (
            f"The host {host!r} is not allowed: this web app answers only to the names in "
            f"{SETTING} and to localhost. If this is the name clients use, add it to "
            f"{SETTING} (comma-separated; .example.com allows a domain and its subdomains) "
            "and restart the web app."
        )
        if is_json_path(path):
            body = json.dumps({"error": {"code": "HOST_NOT_ALLOWED", "message": message}})
            response = Response(body, 400, mimetype="application/json")
        else:
            response = Response(f"400 Bad Request\n\n{message}\n", 400, mimetype="text/plain")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response
