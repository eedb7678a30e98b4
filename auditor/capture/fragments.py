"""IP fragments: where a later fragment's flow is (its first fragment's key), and the later
fragments a byte range starting mid-file holds back until the merge."""

from __future__ import annotations

from typing import Final

from auditor.capture.records import (
    BYTES,
    FIRST_FRAME,
    FIRST_TS,
    LAST_TS,
    PACKETS,
    Orphan,
    Pending,
    Record,
)

MAX_FRAGMENTS: Final = 65_536  # remembered first fragments; the oldest are forgotten first
MAX_ORPHANS: Final = 65_536  # later fragments a byte range holds back for the merge


class Fragments:
    """The flow table's fragment maps (a part of FlowTable, in a room of its own)."""

    # No __slots__ here: FlowTable lists them all (mypy refuses assignments in a mixin with
    # empty slots); the attributes are declared for the type checker only.
    tables: dict[int, dict[bytes, Record]]
    frags4: dict[bytes, bytes]
    frags6: dict[bytes, tuple[int, bytes]]
    orphans: list[Orphan] | None
    pending: dict[Pending, None]
    flows: int

    def seen(self, ts: float) -> None:  # FlowTable's; declared here for the type checker
        raise NotImplementedError

    def defer_orphan(  # noqa: PLR0917 - mirrors add()
        self,
        version: int,
        frag_key: bytes,
        proto: int,
        pair: bytes,
        nbytes: int,
        ts: float,
        frame: int,
    ) -> bool:
        """Hold a later fragment back for the merge; False when it must be counted now."""
        if self.orphans is None or len(self.orphans) >= MAX_ORPHANS:
            return False
        self.orphans.append(Orphan(version, frag_key, proto, pair, nbytes, ts, frame))
        self.seen(ts)
        return True

    def remember_fragment4(self, frag_key: bytes, flow_key: bytes) -> None:
        if len(self.frags4) >= MAX_FRAGMENTS:
            del self.frags4[next(iter(self.frags4))]
        self.frags4[frag_key] = flow_key

    def remember_fragment6(self, frag_key: bytes, proto: int, flow_key: bytes) -> None:
        if len(self.frags6) >= MAX_FRAGMENTS:
            del self.frags6[next(iter(self.frags6))]
        self.frags6[frag_key] = (proto, flow_key)

    def place_orphans(
        self, frags4: dict[bytes, bytes], frags6: dict[bytes, tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], list[int]]:
        """Count held-back fragments where the previous ranges' first fragments say.

        Returns the frames placed into each direction that has held-back sightings.
        """
        placed: dict[tuple[int, bytes], list[int]] = {}
        watched = {(proto, key) for _s, proto, key, _i, _f in self.pending}
        for version, frag_key, frag_proto, pair, nbytes, ts, frame in self.orphans or ():
            if version == 4:
                proto, key = frag_proto, frags4.get(frag_key, pair)
            else:
                proto, key = frags6.get(frag_key, (frag_proto, pair))
            if (proto, key) in watched:
                placed.setdefault((proto, key), []).append(frame)
            table = self.tables.setdefault(proto, {})
            record = table.get(key)
            if record is None:
                table[key] = [1, nbytes, ts, ts, frame, 0]
                self.flows += 1
                continue
            record[PACKETS] += 1
            record[BYTES] += nbytes
            record[FIRST_TS] = min(record[FIRST_TS], ts)
            record[LAST_TS] = max(record[LAST_TS], ts)
            record[FIRST_FRAME] = min(record[FIRST_FRAME], frame)
        self.orphans = None
        return placed
