"""Refusals with a machine-readable code and a sentence a person understands."""

from __future__ import annotations


class Reject(Exception):
    """An order or request refused by a rule. ``status`` is the HTTP status the API answers."""

    def __init__(self, code: str, message: str, status: int = 422, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        body.update(self.details)
        return body
