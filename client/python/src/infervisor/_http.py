"""One keep-alive HTTP/1.1 connection to infervisord, over its Unix socket or TCP.

http.client does the HTTP; the two HTTPConnection subclasses only decide how to connect. A
connection the server has closed while idle (a daemon restarted, an idle timeout) is noticed when
the next request fails before any answer arrives; that request is sent once more on a new
connection. Nothing is retried after an answer has begun.
"""
from __future__ import annotations

import http.client
import socket
from typing import Callable, Dict, Optional, Sequence, Union
from urllib.parse import urlsplit

from .errors import ConnectionFailed, RequestTimeout

BytesLike = Union[bytes, bytearray, memoryview]

# Bodies up to this size are joined with the headers and sent in one write.
_SMALL_BODY = 64 * 1024

# Failures that mean "the server closed this idle connection before reading the request".
_STALE_CONNECTION = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                     http.client.RemoteDisconnected)


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection to a Unix socket path (the Host header says ``localhost``)."""

    def __init__(self, path: str, timeout: Optional[float],
                 on_connect: Callable[[], None] = lambda: None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path
        self._on_connect = on_connect

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._on_connect()


class TcpHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection over TCP with Nagle's algorithm off (requests are written in parts)."""

    def __init__(self, host: str, port: int, timeout: Optional[float],
                 on_connect: Callable[[], None] = lambda: None) -> None:
        super().__init__(host, port, timeout=timeout)
        self._on_connect = on_connect

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_connect()


class Transport:
    """Sends requests over one reused connection; one request at a time (not thread-safe)."""

    def __init__(self, *, socket_path: Optional[str] = None, url: Optional[str] = None,
                 timeout: Optional[float] = None) -> None:
        self.connections_opened = 0
        self._requests_on_connection = 0
        self.timeout = timeout
        self.host: Optional[str] = None
        self.port: Optional[int] = None
        self.socket_path: Optional[str] = None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"url '{url}' is not http://HOST:PORT (https is not supported)")
            if parts.path not in ("", "/") or parts.query:
                raise ValueError(f"url '{url}' must not have a path or query")
            self.host = parts.hostname
            self.port = parts.port or 80
            self.describe = f"http://{parts.netloc}"
            self._connection: http.client.HTTPConnection = TcpHTTPConnection(
                self.host, self.port, timeout, self._count_connect)
        else:
            assert socket_path is not None
            self.socket_path = socket_path
            self.describe = f"unix:{socket_path}"
            self._connection = UnixHTTPConnection(socket_path, timeout, self._count_connect)

    def _count_connect(self) -> None:
        self.connections_opened += 1
        self._requests_on_connection = 0

    @property
    def is_local(self) -> bool:
        """True for a Unix socket or a loopback TCP address (shared memory can work)."""
        if self.socket_path is not None:
            return True
        host = self.host or ""
        return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")

    def close(self) -> None:
        self._connection.close()

    def request(self, method: str, path: str, body: Sequence[BytesLike] = (),
                headers: Optional[Dict[str, str]] = None) -> http.client.HTTPResponse:
        """Sends the request (body given as parts, written in order) and returns the response.

        The caller must read the whole response (or call :meth:`discard`) before the next request.
        """
        total = sum(memoryview(part).nbytes for part in body)
        all_headers = {"Content-Length": str(total)} if (body or method == "POST") else {}
        all_headers.update(headers or {})
        for attempt in (0, 1):
            reused = self._requests_on_connection > 0
            try:
                return self._send_once(method, path, body, total, all_headers)
            except _STALE_CONNECTION as error:
                self._connection.close()
                if attempt == 0 and reused:
                    continue
                raise ConnectionFailed(
                    f"{method} {path}: the connection to infervisord at {self.describe} "
                    f"failed: {error}") from error
            except socket.timeout as error:
                self._connection.close()
                raise RequestTimeout(
                    f"{method} {path}: no answer from infervisord at {self.describe} within "
                    f"{self.timeout} s") from error
            except (FileNotFoundError, ConnectionRefusedError) as error:
                self._connection.close()
                hint = ""
                if self.socket_path is not None:
                    hint = (" (is infervisord running? Client(socket=...) or $INFERVISOR_SOCKET "
                            "names another socket)")
                raise ConnectionFailed(
                    f"cannot connect to infervisord at {self.describe}: {error.strerror or error}"
                    f"{hint}") from error
            except OSError as error:
                self._connection.close()
                raise ConnectionFailed(
                    f"{method} {path}: infervisord at {self.describe}: {error}") from error
        raise AssertionError("unreachable")

    def _send_once(self, method: str, path: str, body: Sequence[BytesLike], total: int,
                   headers: Dict[str, str]) -> http.client.HTTPResponse:
        connection = self._connection
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if total <= _SMALL_BODY:
            connection.endheaders(b"".join(body) if body else None)
        else:
            connection.endheaders()
            for part in body:
                if memoryview(part).nbytes:
                    connection.send(part)
        response = connection.getresponse()
        self._requests_on_connection += 1
        return response

    def discard(self, response: http.client.HTTPResponse) -> None:
        """Gives up on a response mid-way: the connection's state is unknown, so it is closed."""
        response.close()
        self._connection.close()


def read_exactly(response: http.client.HTTPResponse, into: memoryview) -> None:
    """Fills ``into`` from the response body; http.client.IncompleteRead if the body ends first."""
    view = into.cast("B") if into.format != "B" or into.ndim != 1 else into
    filled = 0
    while filled < len(view):
        count = response.readinto(view[filled:])
        if not count:
            raise http.client.IncompleteRead(bytes(), len(view) - filled)
        filled += count
