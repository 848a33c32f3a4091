"""A local HTTPS server with a self-signed certificate playing a Tesla Powerwall gateway, in the
format community projects document (pypowerwall): login, state of energy, meter aggregates."""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support import free_port

PASSWORD = "ABCDE"


class Gateway:
    def __init__(self, tmp_path) -> None:
        cert, key = tmp_path / "gw.crt", tmp_path / "gw.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=powerwall", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        self.soe: object = {"percentage": 69.5}
        self.aggregates: object = {"battery": {"instant_power": 1500.0}, "site": {}}
        self.tokens: set[str] = set()
        self.logins = 0
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/api/login/Basic" or body.get("password") != PASSWORD:
                    return self._send(401, {"error": "bad credentials"})
                gw.logins += 1
                token = secrets.token_hex(8)
                gw.tokens.add(token)
                self._send(200, {"token": token}, {"Set-Cookie": f"AuthCookie={token}; Path=/"})

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                if auth.removeprefix("Bearer ") not in gw.tokens:
                    return self._send(401, {"error": "login required"})
                if self.path == "/api/system_status/soe":
                    return self._send(200, gw.soe)
                if self.path == "/api/meters/aggregates":
                    return self._send(200, gw.aggregates)
                self._send(404, {})

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def config(self, **kw) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "password": PASSWORD, **kw}
