"""What a worker checks before it reads: the client's auditor code and the client's bytes.

Workers only read captures; the client alone opens the geolocation databases, locates and
judges, so one run never judges with two versions of a database. What could still differ
between machines is the code that reads and the file behind a path (a stale copy, a capture
still being written, another mount): both are compared with what the client saw.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import auditor

# Bytes hashed at each end of a capture: a different file, or one still being written, differs
# in its size, its first packets or its last ones. Reading all of it on the client would cost
# what the cluster is there to spread.
SAMPLE: Final = 64 << 10


class MismatchError(Exception):
    """A worker sees other code or other bytes than the client: the task fails (and retries)."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    size: int
    head: str  # SHA-256 of the first SAMPLE bytes
    tail: str  # SHA-256 of the last SAMPLE bytes

    def differences(self, other: Fingerprint) -> list[str]:
        changed = [f"size {other.size} bytes, not {self.size}"] if other.size != self.size else []
        changed += [f"other first {SAMPLE} bytes"] if other.head != self.head else []
        return changed + ([f"other last {SAMPLE} bytes"] if other.tail != self.tail else [])


def fingerprint(path: str) -> Fingerprint:
    """Raises OSError when the file cannot be opened here. A folder (of Zeek logs) is known by
    its files' names and fingerprints."""
    if os.path.isdir(path):
        return _folder(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(SAMPLE)
        f.seek(max(size - SAMPLE, 0))
        tail = f.read(SAMPLE)
    return Fingerprint(size, _sha256(head), _sha256(tail))


@functools.cache
def code_version() -> str:
    """SHA-256 over the auditor package's Python sources, by relative path."""
    root = Path(auditor.__file__).parent
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


def check(path: str, expected: Fingerprint, code: str) -> None:
    """Raises MismatchError unless this process runs ``code`` and sees ``expected`` at path."""
    if code != code_version():
        raise MismatchError(
            f"a worker runs other auditor code ({code_version()[:12]}) than the client "
            f"({code[:12]}): install the same version everywhere"
        )
    seen = fingerprint(path)
    if seen != expected:
        raise MismatchError(
            f"a worker sees other bytes than the client ({', '.join(expected.differences(seen))}): "
            "another file at that path, or one still being written"
        )


def _folder(path: str) -> Fingerprint:
    digest = hashlib.sha256()
    size = 0
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file():
            inside = fingerprint(entry.path)
            size += inside.size
            digest.update(f"{entry.name}\0{inside.size}\0{inside.head}\0{inside.tail}\n".encode())
    listing = digest.hexdigest()
    return Fingerprint(size, listing, listing)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
