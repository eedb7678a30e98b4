"""One careful HTTP(S) download for `audit db update`: bounded in time, credentials kept at home.

Every way a server or the network can fail (refused, reset, garbage, a cut-off chunked body,
too many headers, a stall, a drip) becomes one DownloadError line naming the target. Credentials
go only to the origin (scheme, host and port) they were given for; a redirect elsewhere is
followed without them, and a redirect to anything but http(s) is refused.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from auditor.errors import DatabaseError

USER_AGENT = "auditor-db-update/1"
MAX_REDIRECTS = 10
DEFAULT_READ_SECONDS = 60.0
DEFAULT_TOTAL_SECONDS = 3600.0  # a 100 MB database at 30 kB/s still fits
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long the other side may stay silent, and how long one download may take in all."""

    read_seconds: float = DEFAULT_READ_SECONDS
    total_seconds: float = DEFAULT_TOTAL_SECONDS


@dataclass(frozen=True, slots=True)
class Credentials:
    """HTTP basic credentials, and the one origin that may receive them."""

    user: str
    password: str
    origin: tuple[str, str, int]

    @classmethod
    def for_url(cls, url: str, user: str, password: str) -> Credentials:
        return cls(user, password, origin_of(url))

    @property
    def header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def __repr__(self) -> str:  # a traceback or a debugger must not show the licence key
        return f"Credentials(user={self.user!r}, origin={self.origin!r})"


class DownloadError(DatabaseError):
    """The download failed; ``status`` is the HTTP status when the server answered one."""

    def __init__(self, target: str, message: str, status: int | None = None) -> None:
        super().__init__(target, message)
        self.status = status


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: what credentials are bound to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default


class Download:
    """A GET whose body is read in blocks; a context manager that always closes the connection.

    Each read waits at most ``read_seconds`` for data; a watchdog shuts the socket down when
    ``total_seconds`` have passed since the request began, however the server trickles.
    """

    def __init__(
        self,
        url: str,
        target: str,
        deadlines: Deadlines,
        credentials: Credentials | None = None,
        if_modified_since: float | None = None,
    ) -> None:
        self.url = url
        # With if_modified_since, a 304 answer is no error: not_modified is set, the body empty.
        self._if_modified_since = if_modified_since
        self.not_modified = False
        self._target = target
        self._deadlines = deadlines
        self._credentials = credentials
        self._connection: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._expired = threading.Event()
        self._lock = threading.Lock()
        self._watchdog = threading.Timer(deadlines.total_seconds, self._expire)
        self._watchdog.daemon = True

    def header(self, name: str) -> str | None:
        """A response header, by case-insensitive name."""
        assert self._response is not None  # noqa: S101 - only read inside the with block
        return self._response.getheader(name)

    def __enter__(self) -> Self:
        self._watchdog.start()
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def read(self, size: int = 1 << 16) -> bytes:
        """Up to ``size`` bytes, as soon as any arrive; b"" at the end of the body."""
        assert self._response is not None  # noqa: S101 - only read inside the with block
        if size < 0:
            size = 1 << 16
        try:
            block = self._response.read1(size)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._failure(exc) from exc
        if self._expired.is_set():  # the watchdog may have cut the body short: not an end
            raise self._failure(TimeoutError())
        return block

    def close(self) -> None:
        self._watchdog.cancel()
        self._close_connection()

    def _open(self) -> None:
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._request(url)
            if response.status not in _REDIRECTS:
                self.url = url
                self.not_modified = response.status == 304 and self._if_modified_since is not None
                if not self.not_modified:
                    self._check_status(response)
                self._response = response
                return
            location = response.getheader("Location")
            if not location:
                raise DownloadError(self._target, f"{self._host(url)} redirected to nowhere")
            url = self._redirect_target(url, location)
        raise DownloadError(self._target, f"more than {MAX_REDIRECTS} redirects from {self.url}")

    def _redirect_target(self, url: str, location: str) -> str:
        new = urllib.parse.urljoin(url, location.strip())
        scheme = urllib.parse.urlsplit(new).scheme.lower()
        if scheme not in {"http", "https"}:
            raise DownloadError(
                self._target, f"{self._host(url)} redirected to a {scheme or 'relative'}: URL; "
                "only http and https are followed"
            )
        return new

    def _request(self, url: str) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        scheme, host, port = origin_of(url)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if self._if_modified_since is not None:
            headers["If-Modified-Since"] = email.utils.formatdate(
                self._if_modified_since, usegmt=True
            )
        if self._credentials is not None and self._credentials.origin == (scheme, host, port):
            headers["Authorization"] = self._credentials.header
        connection: http.client.HTTPConnection
        timeout = self._deadlines.read_seconds
        if scheme == "https":
            context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self._close_connection()
        with self._lock:
            self._connection = connection
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            if self._expired.is_set():
                raise TimeoutError
            connection.request("GET", path, headers=headers)
            return connection.getresponse()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._failure(exc, url) from exc

    def _close_connection(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _check_status(self, response: http.client.HTTPResponse) -> None:
        if 200 <= response.status < 300:
            return
        try:
            detail = " ".join(response.read(256).decode("utf-8", "replace").split())
        except (OSError, http.client.HTTPException, ValueError):
            detail = ""
        message = f"{self._host(self.url)} answered HTTP {response.status} {detail}".rstrip()
        raise DownloadError(self._target, message, status=response.status)

    def _expire(self) -> None:
        self._expired.set()
        with self._lock:
            sock = self._connection.sock if self._connection is not None else None
            if sock is not None:
                # socket.socket's own shutdown (not SSLSocket's, which would drop its state
                # under the reading thread): the blocked read returns at once.
                with contextlib.suppress(OSError):  # already closed
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _failure(self, exc: BaseException, url: str | None = None) -> DownloadError:
        host = self._host(url or self.url)
        if self._expired.is_set():
            limit = self._deadlines.total_seconds
            return DownloadError(self._target, f"the download from {host} took longer than "
                                 f"{limit:g} s and was abandoned")
        if isinstance(exc, TimeoutError):
            limit = self._deadlines.read_seconds
            return DownloadError(self._target, f"{host} sent nothing for {limit:g} s")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DownloadError(self._target, f"{host}: certificate not trusted: "
                                 f"{exc.verify_message}")
        if isinstance(exc, http.client.HTTPException | ValueError):
            return DownloadError(self._target, f"{host} sent a malformed HTTP reply "
                                 f"({type(exc).__name__}: {_short(exc)})")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _short(exc)
        return DownloadError(self._target, f"cannot reach {host}: {reason}")

    @staticmethod
    def _host(url: str) -> str:
        scheme, host, port = origin_of(url)
        return f"{scheme}://{host}:{port}"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
