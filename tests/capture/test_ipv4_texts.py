"""_loop.ipv4_texts (columns.Texts.texts's IPv4 addresses, in C) against socket.inet_ntop, its
oracle, and Texts.texts the same both ways."""

from __future__ import annotations

import itertools
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.capture import fastpath
from auditor.capture.columns import Texts

EDGES = [0, 1, 9, 10, 11, 99, 100, 101, 109, 110, 199, 200, 249, 250, 255]


@pytest.fixture(autouse=True)
def built() -> None:
    if not fastpath.BUILT:
        pytest.skip("this install has no compiled packet loop (AUDITOR_REQUIRE_COMPILED=1 fails)")


def _compiled(raws: object) -> list[str]:
    from auditor.capture._loop import ipv4_texts

    return ipv4_texts(raws)  # type: ignore[arg-type]


def _ntop(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def test_every_edge_octet_in_every_place_is_inet_ntop_text() -> None:
    raws = [bytes(octets) for octets in itertools.product(EDGES, repeat=4)]
    assert _compiled(raws) == list(map(_ntop, raws))


@given(st.lists(st.binary(min_size=4, max_size=4)))
def test_any_addresses_are_inet_ntop_text(raws: list[bytes]) -> None:
    texts = _compiled(raws)
    assert texts == list(map(_ntop, raws))
    assert all(type(text) is str for text in texts)


@pytest.mark.parametrize(
    ("raws", "error"),
    [((b"\0\0\0\0",), TypeError), ("1234", TypeError), ([b"\0\0\0"], ValueError),
     ([b"\0" * 5], ValueError), ([bytearray(4)], ValueError), (["1.2.3.4"], ValueError),
     ([b"\0" * 4, 7], ValueError)],
)  # fmt: skip
def test_anything_but_a_list_of_4_byte_addresses_is_refused(
    raws: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        _compiled(raws)


@given(st.lists(st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=16, max_size=16),
                          st.sampled_from(["10.0.0.1", "2001:db8::1"]))))  # fmt: skip
def test_texts_are_the_same_both_ways(raws: list[bytes | str]) -> None:
    compiled = Texts().texts(raws)
    fastpath.compiled = False
    try:
        pure = Texts().texts(raws)
    finally:
        fastpath.compiled = True
    assert compiled == pure
