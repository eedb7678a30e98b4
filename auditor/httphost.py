"""The Host header of a plain-HTTP request: the name a client reached a server as, like SNI.

Read from the first request of a TCP flow only, within the first segment, bounded like a TLS
ClientHello's server_name: the request head is looked at up to MAX_HEAD bytes, the name must be
a DNS name (letters, digits, hyphens, dots, at most 253 bytes) and not an address. Anything
else gives None. The name is untrusted text all the same; reports escape it.
"""

from __future__ import annotations

import ipaddress
import re

MAX_HEAD = 8192  # bytes of the request head looked at; real heads are well under this
MAX_NAME = 253
_METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH", b"CONNECT")
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,7}) [\x21-\x7e]{1,4096} HTTP/1\.[01]\r?\n")
_HOST = re.compile(rb"\r?\nhost:[ \t]*([^\r\n]{1,300})", re.IGNORECASE)
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
                   r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")  # fmt: skip


def http_host(payload: bytes) -> str | None:
    """The host name of the HTTP/1.x request at the start of ``payload``, if it names one."""
    head = payload[:MAX_HEAD]
    line = _REQUEST_LINE.match(head)
    if line is None or line.group(1) not in _METHODS:
        return None
    end = head.find(b"\r\n\r\n")
    found = _HOST.search(head, line.end() - 2, len(head) if end < 0 else end + 2)
    if found is None:
        return None
    return _name(found.group(1).strip().decode("ascii", "replace").lower())


def is_host_name(value: str) -> bool:
    """Whether a text from a capture is a DNS host name (not an address, no odd characters)."""
    return _name(value.lower()) == value.lower().rstrip(".")


def _name(value: str) -> str | None:
    if value.startswith("["):  # [v6]:port: an address, no name
        return None
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    host = host.rstrip(".")
    if not host or len(host) > MAX_NAME or not _NAME.match(host):
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None
