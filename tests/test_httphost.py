"""HTTP Host from a flow's first request: bounded, names only, hostile input never raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.httphost import MAX_HEAD, http_host
from tests.dpktread import segments


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"GET /x HTTP/1.1\r\nHost: cp.pushwoosh.com\r\n\r\n", "cp.pushwoosh.com"),
        (b"POST / HTTP/1.0\r\nUser-Agent: a\r\nhOsT:Example.COM:8080\r\n\r\n", "example.com"),
        (b"GET / HTTP/1.1\nHost: short.example\n\n", "short.example"),  # bare LF
        (b"GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n", None),  # an address is no name
        (b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", None),
        (b"GET / HTTP/1.1\r\nHost: evil\x1b[31m.example\r\n\r\n", None),  # escapes: no name
        (b"GET / HTTP/1.1\r\nHost: a b.example\r\n\r\n", None),
        (b"GET / HTTP/1.1\r\nX-Host: not.this\r\n\r\n", None),
        (b"GET / HTTP/1.1\r\n\r\nHost: in.the.body\r\n", None),  # past the head
        (b"HTTP/1.1 200 OK\r\nHost: a.response\r\n\r\n", None),  # a response, not a request
        (b"FROB / HTTP/1.1\r\nHost: x.example\r\n\r\n", None),
        (b"GET / HTTP/1.1\r\nHost: " + b"a" * 64 + b".example\r\n\r\n", None),  # label > 63
        (b"\x16\x03\x01\x00", None),
        (b"", None),
    ],
)
def test_http_host(payload: bytes, expected: str | None) -> None:
    assert http_host(payload) == expected


def test_host_past_the_bound_is_not_read() -> None:
    padding = b"X-Pad: " + b"a" * MAX_HEAD + b"\r\n"
    assert http_host(b"GET / HTTP/1.1\r\n" + padding + b"Host: late.example\r\n\r\n") is None


@given(st.binary(max_size=300))
def test_never_raises(data: bytes) -> None:
    http_host(b"GET / HTTP/1.1\r\n" + data)
    http_host(data)


def test_webex_pushwoosh_is_named(shared_data: Path) -> None:
    capture = shared_data / "pcaps" / "meetings" / "webex.pcap"
    found = {(s.dst, http_host(s.payload)) for s in segments(capture) if s.proto == 6}
    assert ("78.46.237.91", "cp.pushwoosh.com") in found
