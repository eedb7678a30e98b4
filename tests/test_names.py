"""DNS answers, TLS SNI and platform attribution, on real packet bytes and hostile ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR

from auditor.names import client_hello_sni, dns_answers, tls_sni
from fixtures.meeting import client_hello


def test_dns_answers_pair_the_question_with_every_address() -> None:
    reply = DNS(
        id=1, qr=1, qd=DNSQR(qname="zoom.us"),
        an=[
            DNSRR(rrname="zoom.us", type="CNAME", rdata="zoom.us.cdn.example"),
            DNSRR(rrname="zoom.us.cdn.example", type="A", rdata="170.114.52.2"),
            DNSRR(rrname="zoom.us.cdn.example", type="AAAA", rdata="2600:1f18::2"),
        ],
    )
    assert dns_answers(bytes(reply)) == [("zoom.us", "170.114.52.2"), ("zoom.us", "2600:1f18::2")]


def test_dns_query_and_error_responses_give_nothing() -> None:
    assert dns_answers(bytes(DNS(id=1, qd=DNSQR(qname="zoom.us")))) == []
    nx = DNS(id=1, qr=1, rcode=3, qd=DNSQR(qname="nope.example"))
    assert dns_answers(bytes(nx)) == []


def test_dns_compression_loop_ends() -> None:
    header = bytes.fromhex("0001 8180 0001 0001 0000 0000")
    looping = header + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    assert dns_answers(looping) == []


def test_sni_of_a_client_hello() -> None:
    assert tls_sni(client_hello("Zoom.US")) == "zoom.us"
    assert tls_sni(b"\x17\x03\x03\x00\x10" + bytes(60)) is None  # application data
    assert tls_sni(client_hello("203.0.113.7")) is None  # an address is not a server name


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parsers_never_raise_on_arbitrary_bytes(data: bytes) -> None:
    dns_answers(data)
    tls_sni(data)
    tls_sni(b"\x16\x03\x01\x00\x40\x01" + data)


def test_a_bare_client_hello_message_names_its_server() -> None:
    """QUIC carries the handshake message without the TLS record header."""
    record = client_hello("Meet.Google.com")
    assert client_hello_sni(record[5:]) == tls_sni(record) == "meet.google.com"
    assert client_hello_sni(record) is None  # a record is not a bare message
    assert client_hello_sni(b"") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_hostile_bare_hellos_never_raise(data: bytes) -> None:
    client_hello_sni(b"\x01" + data)
