"""A local stand-in for the database download services, misbehaving on request.

It answers MaxMind's update protocol (metadata, then a tar.gz per edition) and serves any file
put under ``files`` (DB-IP's monthly .mmdb.gz), on 127.0.0.1 only. A test may replace any
reply with raw bytes, make it stall or drip, or redirect it; ``requested`` is set when a
download request arrives, so that a test can act at that moment without sleeping.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import hashlib
import io
import ipaddress
import json
import socket
import ssl
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCOUNT, KEY = "123456", "secret-licence-key"
LAST_MODIFIED = "Tue, 16 Jun 2026 10:00:00 GMT"
DRIP_INTERVAL = 0.05


@dataclass
class Service:
    """What the fake service publishes, how it misbehaves, and what it was asked."""

    url: str = ""
    editions: dict[str, bytes] = field(default_factory=dict)  # edition -> .mmdb bytes
    files: dict[str, bytes] = field(default_factory=dict)  # path -> body, served to anyone
    archive_override: bytes | None = None
    md5_override: str | None = None
    redirect_to: str | None = None  # downloads answer 302 to {redirect_to}/storage/{edition}
    raw: dict[str, bytes] = field(default_factory=dict)  # "metadata"/"download" -> raw reply
    stall: set[str] = field(default_factory=set)  # kinds whose reply stops after the headers
    drip: set[str] = field(default_factory=set)  # kinds whose body comes one byte at a time
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, auth)
    requested: threading.Event = field(default_factory=threading.Event)  # a download began
    not_modified: int = 0  # conditional requests answered 304
    release: threading.Event = field(default_factory=threading.Event)  # ends stalls and drips

    def archive(self, edition: str) -> bytes:
        if self.archive_override is not None:
            return self.archive_override
        return make_archive(edition, self.editions[edition])


def make_archive(edition: str, mmdb: bytes, member: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("COPYRIGHT.txt", b"(c) MaxMind"), (member or f"{edition}.mmdb", mmdb)):
            info = tarfile.TarInfo(f"{edition}_20260616/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _handler(service: Service) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{KEY}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            auth = self.headers.get("Authorization")
            service.requests.append((url.path, auth))
            if url.path in service.files:
                service.requested.set()
                since = self.headers.get("If-Modified-Since")
                if since and email.utils.parsedate_to_datetime(
                    since
                ) >= email.utils.parsedate_to_datetime(LAST_MODIFIED):
                    service.not_modified += 1
                    return self._send(304, b"")
                return self._send(200, service.files[url.path], "download")
            if url.path.startswith("/free/"):  # DB-IP: this month's file may not be out yet
                return self._send(404, b"not found")
            if url.path.startswith("/storage/"):
                return self._send(200, service.archive(url.path.rsplit("/", 1)[-1]), "download")
            if url.path.startswith("/geoip/databases/") and service.redirect_to:
                edition = url.path.split("/")[3]
                self.send_response(302)
                self.send_header("Location", f"{service.redirect_to}/storage/{edition}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if auth != expected:
                return self._send(401, b'{"code":"AUTHORIZATION_INVALID"}')
            if url.path == "/geoip/updates/metadata":
                return self._metadata(query["edition_id"])
            if url.path.startswith("/geoip/databases/"):
                assert query == {"date": "20260616", "suffix": "tar.gz"}
                edition = url.path.split("/")[3]
                service.requested.set()
                return self._send(200, service.archive(edition), "download")
            return self._send(404, b"not found")

        def _metadata(self, edition: str) -> None:
            if edition not in service.editions:
                return self._send(404, b'{"code":"NOT_FOUND"}')
            published = hashlib.md5(service.editions[edition], usedforsecurity=False)
            md5 = service.md5_override or published.hexdigest()
            body = {"databases": [{"edition_id": edition, "date": "2026-06-16", "md5": md5}]}
            return self._send(200, json.dumps(body).encode(), "metadata")

        def _send(self, status: int, body: bytes, kind: str = "") -> None:
            if kind in service.raw:
                self.wfile.write(service.raw[kind])
                self.close_connection = True
                return
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.flush()
            if kind in service.stall:
                service.release.wait(30)
            elif kind in service.drip:
                self._drip(body)
            else:
                self.wfile.write(body)

        def _drip(self, body: bytes) -> None:
            for offset in range(len(body)):
                if service.release.wait(DRIP_INTERVAL):
                    return
                try:
                    self.wfile.write(body[offset : offset + 1])
                    self.wfile.flush()
                except OSError:
                    return  # the client gave up, as it should

    return Handler


class _Server(ThreadingHTTPServer):
    """Speaks TLS to a client that opens with a TLS handshake, plain HTTP to any other.

    One port for both schemes, so that a redirect from https to http changes nothing but the
    scheme, the case where a key bound to host and port alone would leak.
    """

    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None and connection.recv(1, socket.MSG_PEEK) == b"\x16":
            connection = self.tls.wrap_socket(connection, server_side=True)
        return connection, address


@contextmanager
def serving(service: Service, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``service`` on a free port of 127.0.0.1 until the block ends; yields its URL.

    With ``tls``, the URL is https, and the same port also answers plain http.
    """
    server = _Server(("127.0.0.1", 0), _handler(service))
    server.tls = tls
    scheme = "https" if tls else "http"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        service.release.set()
        server.shutdown()
        server.server_close()


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the certificate a client must trust for it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll a readiness condition (never a fixed sleep); False when it never came true."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
