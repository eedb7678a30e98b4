"""The TLS ClientHello inside QUIC v1 client Initial packets, for its server_name.

Initial packets are encrypted, but with keys anyone derives from the packet's Destination
Connection ID (RFC 9001 section 5.2): they protect against tampering, not against reading. The
datagrams come from an untrusted capture: every length is bounded, every failure (a bad tag, a
short packet, a frame we do not know) ends the reading of a packet, and nothing raises.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

QUIC_V1: Final = 0x00000001
INITIAL_SALT_V1: Final = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
MAX_CID: Final = 20  # RFC 9000 17.2: a version 1 connection ID is at most 20 bytes
MAX_PACKETS: Final = 8  # coalesced packets read from one datagram
MAX_FRAMES: Final = 256  # frames read from one packet (Chrome scatters the hello in many)
# The ClientHello a gatherer waits for: its handshake header and the largest TLS plaintext.
MAX_CLIENT_HELLO: Final = 4 + 16_384
MAX_CHUNKS: Final = 256  # CRYPTO pieces held beyond a gap
_CLIENT_HELLO: Final = 1
_NOT_ZERO = re.compile(b"[^\x00]")

Chunk = tuple[int, bytes]  # a CRYPTO frame: (offset in the stream, data)


# hmac (and the OpenSSL behind hashlib, some 4 MB) and cryptography are imported when the
# first Initial is read, not at start-up: most captures have none.


class InitialKeys:
    """The client's Initial packet protection for one Destination Connection ID."""

    __slots__ = ("aead", "hp", "iv")

    def __init__(self, key: bytes, iv: bytes, hp: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.aead: AESGCM = AESGCM(key)
        self.iv = iv
        self.hp: Cipher[modes.ECB] = Cipher(algorithms.AES(hp), modes.ECB())  # noqa: S305 - RFC 9001 5.4.3

    def mask(self, sample: bytes) -> bytes:
        encryptor = self.hp.encryptor()
        return encryptor.update(sample) + encryptor.finalize()


def hkdf_extract(salt: bytes, material: bytes) -> bytes:
    import hmac

    return hmac.digest(salt, material, "sha256")


def hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1) with SHA-256 and an empty context."""
    import hmac

    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, block = b"", b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(secret, block + info + bytes([counter]), "sha256")
        out += block
        counter += 1
    return out[:length]


def client_initial_secrets(dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) of the client's Initial packets for a Destination Connection ID."""
    secret = hkdf_expand_label(hkdf_extract(INITIAL_SALT_V1, dcid), b"client in", 32)
    return (
        hkdf_expand_label(secret, b"quic key", 16),
        hkdf_expand_label(secret, b"quic iv", 12),
        hkdf_expand_label(secret, b"quic hp", 16),
    )


@lru_cache(maxsize=64)
def client_keys(dcid: bytes) -> InitialKeys:
    return InitialKeys(*client_initial_secrets(dcid))


def is_client_initial(datagram: bytes | bytearray) -> bool:
    """A cheap first look: a long-header version 1 Initial packet starts the datagram."""
    return (
        len(datagram) >= 7
        and datagram[0] & 0xB0 == 0x80  # long header, type Initial
        and datagram[1:5] == b"\x00\x00\x00\x01"
    )


def client_initial_crypto(datagram: bytes, dcid: bytes | None = None) -> tuple[bytes, list[Chunk]]:
    """The CRYPTO frames of the client Initial packets in one UDP datagram.

    Keys come from ``dcid`` when given (a connection keeps the keys of its first Initial's
    Destination Connection ID even after it moves to the server's), else from each packet's
    own. Returns the connection ID whose keys opened a packet (empty if none did) and the
    (offset, data) pieces in the order they came; a packet that does not open adds nothing.
    """
    try:
        return _client_initial_crypto(datagram, dcid)
    except (IndexError, ValueError):
        return b"", []


def _client_initial_crypto(datagram: bytes, dcid: bytes | None) -> tuple[bytes, list[Chunk]]:
    opened, chunks = b"", []
    pos, n = 0, len(datagram)
    for _ in range(MAX_PACKETS):
        if n - pos < 7 or not datagram[pos] & 0x80:  # a short header runs to the end
            break
        first = datagram[pos]
        if int.from_bytes(datagram[pos + 1 : pos + 5], "big") != QUIC_V1:
            break  # version negotiation, or a version whose layout we do not know
        kind = (first & 0x30) >> 4
        if kind == 3:  # Retry: no length field, and never sent by a client
            break
        p = pos + 5
        dcid_length = datagram[p]
        if dcid_length > MAX_CID:
            break
        packet_dcid = datagram[p + 1 : p + 1 + dcid_length]
        p += 1 + dcid_length
        scid_length = datagram[p]
        if scid_length > MAX_CID:
            break
        p += 1 + scid_length
        if kind == 0:
            token_length, p = read_varint(datagram, p)
            p += token_length
        length, p = read_varint(datagram, p)
        end = p + length
        if end > n:
            break
        if kind == 0:
            keys_id = packet_dcid if dcid is None else dcid
            frames = _open(datagram, pos, p, end, client_keys(bytes(keys_id)))
            if frames is not None:
                opened = opened or bytes(keys_id)
                chunks += frames
        pos = end
    return opened, chunks


def _open(
    datagram: bytes, start: int, pn_offset: int, end: int, keys: InitialKeys
) -> list[Chunk] | None:
    """The CRYPTO frames of one Initial packet, or None if it does not decrypt."""
    if end - pn_offset < 4 + 16:
        return None
    mask = keys.mask(datagram[pn_offset + 4 : pn_offset + 20])
    first = datagram[start] ^ (mask[0] & 0x0F)
    pn_length = (first & 0x03) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(datagram[pn_offset : pn_offset + pn_length],
                                           mask[1 : 1 + pn_length], strict=True))  # fmt: skip
    # The first Initials carry small packet numbers: the truncated number is the number.
    number = int.from_bytes(pn_bytes, "big")
    header = bytes([first]) + datagram[start + 1 : pn_offset] + pn_bytes
    nonce = (int.from_bytes(keys.iv, "big") ^ number).to_bytes(12, "big")
    from cryptography.exceptions import InvalidTag

    try:
        payload = keys.aead.decrypt(nonce, datagram[pn_offset + pn_length : end], header)
    except InvalidTag:
        return None
    return crypto_frames(payload)


def crypto_frames(payload: bytes) -> list[Chunk]:
    """The CRYPTO frames of a decrypted Initial payload, up to the first frame not allowed or
    not known there (RFC 9000 12.4: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE), or one cut
    short."""
    chunks: list[Chunk] = []
    with contextlib.suppress(IndexError, ValueError):  # what came before a bad frame stands
        _crypto_frames(payload, chunks)
    return chunks


def _crypto_frames(payload: bytes, chunks: list[Chunk]) -> None:
    pos, n = 0, len(payload)
    for _ in range(MAX_FRAMES):
        if pos >= n:
            return
        kind, pos = read_varint(payload, pos)
        if kind == 0x00:  # PADDING: skip the whole run
            found = _NOT_ZERO.search(payload, pos)
            pos = found.start() if found else n
        elif kind == 0x01:  # PING
            continue
        elif kind == 0x06:  # CRYPTO
            offset, pos = read_varint(payload, pos)
            length, pos = read_varint(payload, pos)
            if pos + length > n:
                return
            chunks.append((offset, payload[pos : pos + length]))
            pos += length
        elif kind in (0x02, 0x03):  # ACK, ACK with ECN counts
            _largest, pos = read_varint(payload, pos)
            _delay, pos = read_varint(payload, pos)
            ranges, pos = read_varint(payload, pos)
            if ranges > n:
                return
            for _ in range(1 + 2 * ranges + (3 if kind == 0x03 else 0)):
                _value, pos = read_varint(payload, pos)
        else:  # CONNECTION_CLOSE ends the packet's use; anything else is not ours to read
            return


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A QUIC variable-length integer (RFC 9000 16) at ``pos``, and where it ends."""
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise ValueError("truncated variable-length integer")
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[pos + i]
    return value, pos + size


class ClientHelloCrypto:
    """A client's CRYPTO stream gathered from its Initial packets until the ClientHello in it
    is whole: the contiguous bytes from offset 0, and the pieces held beyond a gap."""

    __slots__ = ("data", "dcid", "held")

    def __init__(self) -> None:
        self.data = bytearray()
        self.held: list[Chunk] = []
        self.dcid: bytes | None = None  # whose keys opened the first Initial

    def add(self, datagram: bytes) -> bool | None:
        """Read one more datagram of the direction: True once the ClientHello is whole, None
        when the stream cannot hold one (gathering is over), False while it may yet."""
        opened, chunks = client_initial_crypto(datagram, self.dcid)
        if self.dcid is None and opened:
            self.dcid = opened
        for offset, data in chunks:
            if offset < MAX_CLIENT_HELLO and data and len(self.held) < MAX_CHUNKS:
                self.held.append((offset, data[: MAX_CLIENT_HELLO - offset]))
        progress = True
        while progress and self.held:
            progress = False
            have = len(self.data)
            for index, (offset, data) in enumerate(self.held):
                if offset <= have:
                    del self.held[index]
                    if offset + len(data) > have:
                        self.data += data[have - offset :]
                    progress = True
                    break
        return self._state()

    def _state(self) -> bool | None:
        data = self.data
        if not data:
            return False
        if data[0] != _CLIENT_HELLO:
            return None
        if len(data) < 4:
            return False
        need = 4 + int.from_bytes(data[1:4], "big")
        if need > MAX_CLIENT_HELLO:
            return None
        return len(data) >= need

    def client_hello(self) -> bytes:
        """The ClientHello handshake message, once add() said it is whole."""
        return bytes(self.data[: 4 + int.from_bytes(self.data[1:4], "big")])
