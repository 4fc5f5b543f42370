"""Errors that carry a protocol error code (docs/protocol.md) and a message for the client."""

from __future__ import annotations


class CodedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
