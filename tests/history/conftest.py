"""History fixtures: a throwaway PostgreSQL server, crafted databases, synthetic meetings.

The PostgreSQL server is a private cluster (initdb + pg_ctl) on a unix socket in a temporary
folder, started once per session; each test gets its own database in it. As root it runs as the
``postgres`` user that Debian's package creates. Tests skip only when no server can start, and
fail instead when .ci/run installed PostgreSQL and says so (AUDITOR_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from scapy.utils import wrpcap

from fixtures.meeting import Server, meeting_packets, on_ethernet

CLIENT = "192.168.1.23"
US = Server("216.160.83.57", 443, "tcp", 3, name="us.example")
SE = Server("89.160.20.113", 8801, "udp", 5, name="zoomfra.zoom.us")
CN = Server("175.16.199.7", 8801, "udp", 4, name="relay.example-cn.net")
_NAMES = itertools.count()


def write_meeting(path: Path, servers: Sequence[Server]) -> Path:
    wrpcap(str(path), on_ethernet(meeting_packets(CLIENT, servers, resolver="192.168.1.1"),
                                  CLIENT))
    return path


def write_country_db(path: Path, places: dict[str, str]) -> Path:
    """A GeoLite2-Country database placing each /24 where ``places`` says."""
    mmdb_writer = pytest.importorskip("mmdb_writer")
    netaddr = pytest.importorskip("netaddr")
    writer = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoLite2-Country",
                                    languages=["en"], description={"en": "crafted"},
                                    ipv4_compatible=True)
    for network, code in places.items():
        country = {"iso_code": code, "names": {"en": code}}
        writer.insert_network(netaddr.IPSet([network]),
                              {"country": country, "registered_country": country})
    writer.to_db_file(str(path))
    return path


def _postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _cannot_start(reason: str) -> None:
    if os.environ.get("AUDITOR_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL was installed by .ci/run but {reason}")
    pytest.skip(f"no PostgreSQL server for the history tests: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A libpq URL (without a database name) of a private server, or AUDITOR_TEST_POSTGRES_URL."""
    given = os.environ.get("AUDITOR_TEST_POSTGRES_URL")
    if given:
        yield given.rstrip("/")
        return
    bindir = _postgres_bindir()
    if bindir is None:
        _cannot_start("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
        return
    user: str | None = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            _cannot_start("running as root and there is no 'postgres' user to run it as")
    root = Path(tempfile.mkdtemp(prefix="auditor-pg-"))
    if user is not None:
        shutil.chown(root, user, user)
    data, log = root / "data", root / "server.log"
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "auditor",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, user=user, timeout=120,
        )
        # -w waits until the server accepts connections: the readiness signal, no sleep.
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120",
             "-o", f"-k {root} -c listen_addresses='' -c fsync=off -c max_connections=40",
             "start"],
            check=True, capture_output=True, user=user, timeout=180,
        )
    except (subprocess.SubprocessError, OSError) as error:
        detail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        stderr = getattr(error, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        _cannot_start(f"it did not start: {error} {stderr.decode(errors='replace')} {detail}")
        return
    try:
        yield f"postgresql://auditor@/?host={root}"
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, user=user, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _with_database(server: str, name: str) -> str:
    base, _, query = server.partition("?")
    base = base.rstrip("/")
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the session's server."""
    import psycopg

    name = f"history_{os.getpid()}_{next(_NAMES)}"
    with psycopg.connect(_with_database(postgres_server, "postgres"),
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return _with_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A --history value for each kind of store."""
    if request.param == "sqlite":
        return str(tmp_path / "auditor.db")
    return str(request.getfixturevalue("postgres_url"))
