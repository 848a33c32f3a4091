"""The web app: dashboard, order entry and live events over the exchange's public API."""

from .app import create_app, run
from .security import check_startup
from .settings import WebSettings

__all__ = ["WebSettings", "check_startup", "create_app", "run"]
