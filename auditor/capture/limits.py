"""The memory bounds of the capture stage, read at run time (so a test can lower them)."""

from __future__ import annotations

# Directional keys of the flow table (a conversation seen both ways is two). Beyond this, later
# new conversations are counted per address pair (see spill.py), so that every server address
# is still located and judged. A key costs about 270 bytes in the table and a one-way flow about
# 230 as a Flow (the two never coexist); measured on one-packet flows, the whole `audit` peaks at
# 161 MiB for 500k keys and 289 MiB for 1M; 411 MiB for 1M with two workers, whose tables the
# parent holds together while it merges them (each byte range gets an equal share of the cap;
# see parallel.py). Above about 1.4M keys the table's dict grows once more, by some 160 MB.
MAX_FLOWS = 1_000_000
# Address pairs (both directions in one record) counted once the flow table is full; a pair
# costs about 250 bytes. Past this bound packets go unjudged and the capture is incomplete.
MAX_PAIRS = 1_000_000
MAX_UNJUDGED_ADDRESSES = 65_536  # distinct addresses of unjudged packets, counted exactly
