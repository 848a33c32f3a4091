"""``python -m phoenyra.webapp [--host H] [--port P]`` (what ``phoenyra webapp`` runs)."""

from __future__ import annotations

import argparse
import logging
import sys

from ..config import ConfigError
from .app import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phoenyra-webapp")
    parser.add_argument("--host", default=None, help="default WEBAPP_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default WEBAPP_PORT or 5000")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        run(args.host, args.port)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
