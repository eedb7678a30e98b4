"""Build auditor/data/countries.caps from auditor/data/countries.json.gz (see geo/geometry.py).

Each country's bounding box and the spherical cap of every chunk of its outline, computed by
auditor.geo.geometry itself (caps_file), as little-endian doubles, after the SHA-256 of the
countries.json.gz they were computed from: a run reads them instead of computing 100k unit
vectors and 5k caps, and ignores them when they do not match the outlines it loads. Nothing
here is new data: the caps follow from the outlines (scripts/build_geometry.py, Natural Earth).

    python scripts/build_outline_caps.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.geo.geometry import CAPS_FILE, GEOMETRY_FILE, caps_file  # noqa: E402 - ROOT on path

DATA = ROOT / "auditor" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the caps file is stale")
    built = caps_file((DATA / GEOMETRY_FILE).read_bytes())
    target = DATA / CAPS_FILE
    if parser.parse_args().check:
        if not target.exists() or target.read_bytes() != built:
            print(f"{target} is not what {GEOMETRY_FILE} gives: rerun me", file=sys.stderr)
            return 1
        return 0
    target.write_bytes(built)
    print(f"wrote {target} ({len(built)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
