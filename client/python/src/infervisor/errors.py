"""Exceptions raised by the infervisor client.

Every exception derives from :class:`InfervisorError`, so ``except InfervisorError`` catches
whatever the client raises on purpose (bad arguments raise ``ValueError``/``TypeError`` as usual).
"""
from __future__ import annotations

import json
from typing import Optional


class InfervisorError(Exception):
    """Base class of the client's exceptions."""


class ServerError(InfervisorError):
    """The server answered with an HTTP error status.

    Attributes:
        status: the HTTP status code (400 bad request, 403 forbidden, 404 unknown model or
            endpoint, 413 too large, 500 the model raised or its worker died, 503 not ready, queue
            full or shutting down).
        message: the server's explanation, from its ``{"error": "..."}`` body (or the raw body
            when it is not that JSON shape).
        method, path: the request that failed.
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status}: {message}")

    @classmethod
    def from_body(cls, status: int, body: bytes, *, method: str = "",
                  path: str = "") -> "ServerError":
        """Builds the exception from an error response body."""
        text = body.decode("utf-8", errors="replace")
        message = text
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("error"), str):
            message = document["error"]
        return cls(status, message or "(empty body)", method=method, path=path)


class ConnectionFailed(InfervisorError, ConnectionError):
    """The server could not be reached (no socket file, nobody listening, connection dropped)."""


class RequestTimeout(InfervisorError, TimeoutError):
    """No answer within the client's ``timeout``; the connection was closed."""


class ProtocolError(InfervisorError):
    """The server's answer did not follow the protocol (sizes that do not add up, bad JSON)."""


class SharedMemoryError(InfervisorError):
    """A shared-memory region could not be created, mapped or used."""

    def __init__(self, message: str, *, cause: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.__cause__ = cause
