"""Structured logs: one JSON object per line (or readable key=value lines on a terminal).

``LOG_FORMAT`` chooses: ``json`` (containers, log collectors), ``console`` (people), or unset:
console on a terminal, JSON otherwise. Lines written while a request is handled carry its
``request_id`` (see requestlog.py)."""

from __future__ import annotations

import logging
import os
import sys

import structlog

from .config import ConfigError

LOG_FORMATS = ("json", "console")


def json_from_env(environ=os.environ) -> bool:
    value = environ.get("LOG_FORMAT", "").strip().lower()
    if not value:
        return not sys.stderr.isatty()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT={value!r}: choose one of {', '.join(LOG_FORMATS)}")
    return value == "json"


def setup_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = json_from_env()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            lambda _l, _m, event: {
                **{k: v for k, v in event.items() if k != "color_message"},
                "service": service,
            },
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per outgoing request (the feed's and telemetry's polls) drowns the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
