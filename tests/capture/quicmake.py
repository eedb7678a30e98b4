"""QUIC v1 client Initial packets for the tests: the inverse of auditor.quic, written from
RFC 9000 17.2.2 and RFC 9001 5 with `cryptography` (and checked against RFC 9001 Appendix A)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auditor.quic import client_initial_secrets

DCID = bytes.fromhex("8394c8f03e515708")


def varint(value: int, size: int = 0) -> bytes:
    """A QUIC variable-length integer, in ``size`` bytes if given, else the fewest."""
    if not size:
        size = 1 if value < 1 << 6 else 2 if value < 1 << 14 else 4 if value < 1 << 30 else 8
    prefix = {1: 0, 2: 1, 4: 2, 8: 3}[size] << (8 * size - 2)
    return (prefix | value).to_bytes(size, "big")


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def protect(header: bytes, pn_length: int, number: int, payload: bytes, dcid: bytes) -> bytes:
    """Encrypt ``payload`` under the unprotected long ``header`` (which ends with the packet
    number in ``pn_length`` bytes), then protect the header."""
    key, iv, hp = client_initial_secrets(dcid)
    nonce = (int.from_bytes(iv, "big") ^ number).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    sample = sealed[4 - pn_length : 20 - pn_length]
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()  # noqa: S305
    mask = encryptor.update(sample) + encryptor.finalize()
    pn_offset = len(header) - pn_length
    out = bytearray(header)
    out[0] ^= mask[0] & 0x0F
    for i in range(pn_length):
        out[pn_offset + i] ^= mask[1 + i]
    return bytes(out) + sealed


def initial(
    frames: bytes,
    number: int = 0,
    *,
    dcid: bytes = DCID,
    scid: bytes = b"",
    token: bytes = b"",
    pn_length: int = 4,
    pad_to: int = 1200,
    key_dcid: bytes | None = None,
) -> bytes:
    """One protected client Initial packet carrying ``frames``, PADDING-filled to ``pad_to``
    bytes (clients pad the datagrams of their Initials to 1200)."""
    fixed = 7 + len(dcid) + len(scid) + len(varint(len(token))) + len(token) + 2 + pn_length
    payload = frames + bytes(max(pad_to - fixed - len(frames) - 16, 20 - len(frames), 0))
    header = (
        bytes([0xC0 | (pn_length - 1)]) + b"\x00\x00\x00\x01"
        + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
        + varint(len(token)) + token
        + varint(pn_length + len(payload) + 16, 2)
        + number.to_bytes(pn_length, "big")
    )  # fmt: skip
    return protect(header, pn_length, number, payload, dcid if key_dcid is None else key_dcid)


def hello_message(record: bytes) -> bytes:
    """The handshake message of a TLS record (QUIC carries no record layer)."""
    return record[5:]


def initials(message: bytes, parts: int = 1, *, dcid: bytes = DCID) -> list[bytes]:
    """The ClientHello ``message`` cut into ``parts`` Initial packets, one per datagram."""
    size = -(-len(message) // parts)
    return [
        initial(crypto_frame(i, message[i : i + size]), n, dcid=dcid)
        for n, i in enumerate(range(0, len(message), size))
    ]
