"""`audit db update` against a local stand-in for MaxMind's update service."""

from __future__ import annotations

import gzip
import io
import os
import signal
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.cli import Environment, main
from auditor.errors import DatabaseError, UsageError
from auditor.geo.discovery import discover_databases
from auditor.geo.locator import open_locator
from auditor.geo.update import UpdateConfig, load_config, parse_geoip_conf, update_databases
from tests.geo.conftest import MakeDb
from tests.geo.update_server import (
    ACCOUNT,
    KEY,
    Service,
    make_archive,
    self_signed,
    serving,
    wait_for,
)

NOW = 1_795_000_000.0  # 2026-11-18 UTC: DB-IP's month is 2026-11, the one before 2026-10


def db_main(
    argv: list[str],
    env: dict[str, str],
    out: io.StringIO,
    err: io.StringIO,
    now: float = NOW,
) -> int:
    environment = Environment(stdout=out, stderr=err, env=env, now=lambda: now)
    return main(["db", *argv], environment)


@pytest.fixture
def service(make_db: MakeDb) -> Iterator[Service]:
    state = Service()
    city = make_db("GeoLite2-City", {"81.2.69.0/24": {"country": {"iso_code": "GB"}}})
    asn = make_db("GeoLite2-ASN", {"81.2.69.0/24": {"autonomous_system_number": 20712}})
    state.editions = {
        "GeoLite2-City": Path(city).read_bytes(),
        "GeoLite2-ASN": Path(asn).read_bytes(),
    }
    with serving(state) as url:
        state.url = url
        yield state


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The database directory, apart from the crafted source files in tmp_path."""
    path = tmp_path / "GeoIP"
    path.mkdir()
    return path


def _config(service: Service, directory: Path, key: str = KEY) -> UpdateConfig:
    return UpdateConfig(
        ACCOUNT, key, ("GeoLite2-City", "GeoLite2-ASN"), str(directory), service.url
    )


def test_download_verify_and_install(service: Service, folder: Path) -> None:
    results = update_databases(_config(service, folder), NOW)
    assert [(r.edition_id, r.updated, r.date) for r in results] == [
        ("GeoLite2-City", True, "2026-06-16"),
        ("GeoLite2-ASN", True, "2026-06-16"),
    ]
    city = folder / "GeoLite2-City.mmdb"
    assert city.read_bytes() == service.editions["GeoLite2-City"]
    assert city.stat().st_mtime == 1781604000  # Last-Modified, as geoipupdate keeps it
    assert sorted(p.name for p in folder.iterdir()) == ["GeoLite2-ASN.mmdb", "GeoLite2-City.mmdb"]


def test_current_files_are_not_downloaded_again(service: Service, folder: Path) -> None:
    update_databases(_config(service, folder), NOW)
    service.requests.clear()
    results = update_databases(_config(service, folder), NOW)
    assert [r.updated for r in results] == [False, False]
    assert [path for path, _ in service.requests] == ["/geoip/updates/metadata"] * 2


def test_rejected_credentials(service: Service, folder: Path) -> None:
    with pytest.raises(DatabaseError, match=r"refused the account ID or licence key \(HTTP 401\)"):
        update_databases(_config(service, folder, key="wrong"), NOW)


def _existing(folder: Path) -> Path:
    existing = folder / "GeoLite2-City.mmdb"
    existing.write_bytes(b"old database")
    return existing


def test_md5_mismatch_keeps_the_old_file(service: Service, folder: Path) -> None:
    existing = _existing(folder)
    service.md5_override = "0" * 32
    with pytest.raises(DatabaseError, match="has MD5"):
        update_databases(_config(service, folder), NOW)
    assert existing.read_bytes() == b"old database"
    assert [p.name for p in folder.iterdir()] == ["GeoLite2-City.mmdb"]  # no partial left


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not gzip at all", "archive is damaged"),
        (make_archive("GeoLite2-City", b"x")[:40], "archive is damaged"),
        (make_archive("GeoLite2-City", b"data", member="README.txt"), "holds no .mmdb"),
    ],
)
def test_broken_archive_keeps_the_old_file(
    service: Service, folder: Path, archive: bytes, message: str
) -> None:
    existing = _existing(folder)
    service.archive_override = archive
    with pytest.raises(DatabaseError, match=message):
        update_databases(_config(service, folder), NOW)
    assert existing.read_bytes() == b"old database"
    assert [p.name for p in folder.iterdir()] == ["GeoLite2-City.mmdb"]


def test_valid_archive_with_an_unreadable_database(service: Service, folder: Path) -> None:
    junk = b"\x00" * 5000
    service.editions["GeoLite2-City"] = junk  # the published MD5 matches the junk
    with pytest.raises(DatabaseError, match="is not a valid database"):
        update_databases(_config(service, folder), NOW)
    assert not (folder / "GeoLite2-City.mmdb").exists()


def test_edition_mismatch_is_refused(service: Service, folder: Path) -> None:
    service.editions["GeoLite2-City"] = service.editions["GeoLite2-ASN"]
    with pytest.raises(DatabaseError, match="is a 'GeoLite2-ASN' database"):
        update_databases(_config(service, folder), NOW)


def test_redirect_elsewhere_does_not_carry_the_licence_key(service: Service, folder: Path) -> None:
    port = service.url.rsplit(":", 1)[1]
    service.redirect_to = f"http://localhost:{port}"  # another host name for the same server
    update_databases(_config(service, folder), NOW)
    storage = [auth for path, auth in service.requests if path.startswith("/storage/")]
    assert storage == [None, None]
    assert (folder / "GeoLite2-ASN.mmdb").read_bytes() == service.editions["GeoLite2-ASN"]


def test_unreachable_service(folder: Path) -> None:
    config = UpdateConfig(ACCOUNT, KEY, ("GeoLite2-City",), str(folder), "http://127.0.0.1:9")
    with pytest.raises(DatabaseError, match="cannot reach"):
        update_databases(config, NOW)


def test_config_precedence_flags_env_conf(tmp_path: Path) -> None:
    conf = tmp_path / "GeoIP.conf"
    conf.write_text(
        "# GeoIP.conf\nAccountID 111\nLicenseKey conf-key\n"
        "EditionIDs GeoLite2-Country GeoLite2-ASN\n"
        "DatabaseDirectory /conf/dir\nHost updates.example.com\n",
        encoding="utf-8",
    )
    from_conf = load_config({}, {}, str(conf))
    assert from_conf == UpdateConfig(
        "111",
        "conf-key",
        ("GeoLite2-Country", "GeoLite2-ASN", "dbip-city-lite"),
        "/conf/dir",
        "https://updates.example.com",
    )
    assert from_conf.edition_ids == ("GeoLite2-Country", "GeoLite2-ASN", "dbip-city-lite")
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n", encoding="utf-8")
    env = {
        "GEOIPUPDATE_ACCOUNT_ID": "222",
        "GEOIPUPDATE_LICENSE_KEY_FILE": str(key_file),
        "GEOIPUPDATE_CONF_FILE": str(conf),
    }
    from_env = load_config({}, env)
    assert (from_env.account_id, from_env.license_key, from_env.directory) == (
        "222",
        "file-key",
        "/conf/dir",
    )
    flags = {"account_id": "333", "license_key": "flag-key", "host": "http://127.0.0.1:8080/"}
    from_flags = load_config(flags, env)
    assert (from_flags.account_id, from_flags.license_key, from_flags.host) == (
        "333",
        "flag-key",
        "http://127.0.0.1:8080",
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"edition_ids": "GeoLite2-City"}, "need an account ID and licence key"),
        ({"account_id": "abc", "license_key": "k"}, "not a number"),
        ({"account_id": "1", "license_key": "k", "edition_ids": "../etc"}, "not a MaxMind or DB"),
    ],
)
def test_config_errors(flags: dict[str, str], message: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_config(flags, {}, str(empty))


def test_parse_geoip_conf_comments_and_blank_lines() -> None:
    assert parse_geoip_conf("# c\n\nAccountID 1 # trailing\nLicenseKey  k \n") == {
        "AccountID": "1",
        "LicenseKey": "k",
    }


def _argv(
    service: Service, folder: Path, *extra: str, edition: str = "GeoLite2-City"
) -> list[str]:
    return [
        "update",
        "--account-id",
        ACCOUNT,
        "--license-key",
        KEY,
        "--edition",
        edition,
        "--dir",
        str(folder),
        "--host",
        service.url,
        *extra,
    ]


def test_db_main_update(service: Service, folder: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = _argv(service, folder, edition="GeoLite2-ASN")
    assert db_main(argv, {}, out, err) == 0
    assert out.getvalue() == f"{folder}/GeoLite2-ASN.mmdb: GeoLite2-ASN 2026-06-16 updated\n"
    assert err.getvalue() == ""
    bad = [*argv[:4], "wrong", *argv[5:]]
    assert db_main(bad, {}, out, err) == 2
    assert err.getvalue().count("\n") == 1
    assert "refused" in err.getvalue()
    assert os.listdir(folder) == ["GeoLite2-ASN.mmdb"]


# --- Issue 8: every failure is one line and exit 2; bounded in time and size; the key stays home


def _fails_in_one_line(argv: list[str], message: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert db_main(argv, {}, out, err) == 2
    text = err.getvalue()
    assert text.startswith("audit db: ")
    assert text.count("\n") == 1, text
    assert message in text
    assert KEY not in text
    return text


_MANY_HEADERS = b"".join(b"X-H%d: v\r\n" % i for i in range(150))


@pytest.mark.parametrize(
    ("kind", "reply", "message"),
    [
        ("metadata", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed HTTP reply"),
        ("metadata", b"", "malformed HTTP reply"),
        ("metadata", b"HTTP/1.1 200 OK\r\n" + _MANY_HEADERS + b"\r\n{}", "malformed HTTP reply"),
        (
            "metadata",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"databases\"",
            "malformed HTTP reply",
        ),
        (
            "metadata",
            b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n" + b"[" * 400_000,
            "nested too deeply",
        ),
        (
            "metadata",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" + b" " * 3_000_000,
            "larger than",
        ),
        (
            "download",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfff\r\n\x1f\x8b\x08\x00",
            "malformed HTTP reply",
        ),
        ("download", b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n\x1f\x8b", "damaged"),
    ],
    ids=[
        "garbage",
        "empty",
        "150-headers",
        "chunked-cut-off",
        "json-nesting",
        "huge-metadata",
        "archive-chunked-cut-off",
        "archive-short",
    ],
)
def test_broken_replies_are_one_line_and_exit_2(
    service: Service, folder: Path, kind: str, reply: bytes, message: str
) -> None:
    service.raw[kind] = reply
    _fails_in_one_line(_argv(service, folder), message)
    assert os.listdir(folder) == []


def test_dir_that_is_a_file(service: Service, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "GeoIP"
    not_a_dir.write_bytes(b"precious")
    _fails_in_one_line(_argv(service, not_a_dir), "is not a directory")
    assert not_a_dir.read_bytes() == b"precious"
    assert service.requests == []  # refused before asking the network anything


def test_target_that_is_a_directory(service: Service, folder: Path) -> None:
    (folder / "GeoLite2-City.mmdb").mkdir()
    _fails_in_one_line(_argv(service, folder), "is a directory")
    assert os.listdir(folder) == ["GeoLite2-City.mmdb"]
    assert os.path.isdir(folder / "GeoLite2-City.mmdb")


def test_a_dripping_server_meets_the_whole_download_deadline(
    service: Service, folder: Path
) -> None:
    service.drip.add("download")  # a byte every 50 ms: each read is quick, the whole is not
    _fails_in_one_line(
        _argv(service, folder, "--deadline", "0.5", "--read-timeout", "5"),
        "took longer than 0.5 s",
    )
    assert os.listdir(folder) == []


def test_a_silent_server_meets_the_read_timeout(service: Service, folder: Path) -> None:
    service.stall.add("metadata")
    _fails_in_one_line(
        _argv(service, folder, "--read-timeout", "0.3"), "sent nothing for 0.3 s"
    )


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/GeoLite2-City", "file:///etc/passwd"])
def test_redirects_to_other_schemes_are_refused(
    service: Service, folder: Path, target: str
) -> None:
    service.redirect_to = target
    _fails_in_one_line(_argv(service, folder), "only http and https are followed")
    assert os.listdir(folder) == []


def test_redirect_to_another_port_does_not_carry_the_licence_key(
    service: Service, folder: Path
) -> None:
    storage = Service(editions=service.editions)
    with serving(storage) as url:
        service.redirect_to = url  # same host, same scheme, another port
        out, err = io.StringIO(), io.StringIO()
        assert db_main(_argv(service, folder), {}, out, err) == 0, err.getvalue()
    assert storage.requests == [("/storage/GeoLite2-City", None)]


def test_https_to_http_on_the_same_host_does_not_carry_the_licence_key(
    service: Service, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, certificate = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # OpenSSL's own trust override
    secure = Service(editions=service.editions)
    with serving(secure, tls=context) as url:
        secure.url = url
        secure.redirect_to = url.replace("https://", "http://")  # same host, same port
        out, err = io.StringIO(), io.StringIO()
        assert db_main(_argv(secure, folder), {}, out, err) == 0, err.getvalue()
    sent = [(path.split("/")[1], auth is not None) for path, auth in secure.requests]
    assert sent == [("geoip", True), ("geoip", True), ("storage", False)]
    assert (folder / "GeoLite2-City.mmdb").read_bytes() == service.editions["GeoLite2-City"]


def test_an_untrusted_certificate_is_one_line(
    service: Service, folder: Path, tmp_path: Path
) -> None:
    context, _ = self_signed(tmp_path)
    secure = Service(editions=service.editions)
    with serving(secure, tls=context) as url:
        secure.url = url
        _fails_in_one_line(_argv(secure, folder), "certificate not trusted")


def test_a_gzip_bomb_is_stopped_at_the_size_bound(service: Service, folder: Path) -> None:
    bomb = b"\0" * (3 << 20)
    service.editions["GeoLite2-City"] = bomb  # the published MD5 even matches
    config = replace(_config(service, folder), edition_ids=("GeoLite2-City",))
    with pytest.raises(DatabaseError, match="unpacks to more than 1 MiB"):
        update_databases(replace(config, max_mmdb_bytes=1 << 20), NOW)
    assert os.listdir(folder) == []


def test_a_tar_header_claiming_a_huge_member_is_refused_unread(
    service: Service, folder: Path
) -> None:
    header = tarfile.TarInfo("GeoLite2-City_20260616/GeoLite2-City.mmdb")
    header.size = 1 << 40  # a terabyte promised; nothing follows
    service.archive_override = gzip.compress(header.tobuf())
    with pytest.raises(DatabaseError, match="unpacks to more than"):
        update_databases(replace(_config(service, folder), edition_ids=("GeoLite2-City",)), NOW)
    assert os.listdir(folder) == []


def test_the_default_size_bound_is_what_a_database_can_plausibly_be() -> None:
    # GeoIP2-Enterprise and DB-IP City Lite unpack to a few hundred MB; 8 GiB was no bound.
    assert 512 << 20 <= UpdateConfig("1", "k").max_mmdb_bytes <= 2 << 30


@pytest.mark.parametrize("existing_mode", [None, 0o640])
def test_installed_mode_is_0644_or_the_replaced_files(
    service: Service, folder: Path, existing_mode: int | None
) -> None:
    target = folder / "GeoLite2-City.mmdb"
    if existing_mode is not None:
        target.write_bytes(b"old")
        target.chmod(existing_mode)
    previous = os.umask(0o077)
    try:
        update_databases(replace(_config(service, folder), edition_ids=("GeoLite2-City",)), NOW)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == (existing_mode or 0o644)


def test_the_licence_key_need_not_be_on_the_command_line(
    service: Service, folder: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "licence"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    env = {"GEOIPUPDATE_ACCOUNT_ID": ACCOUNT, "GEOIPUPDATE_LICENSE_KEY_FILE": str(key_file)}
    argv = ["update", "--edition", "GeoLite2-ASN", "--dir", str(folder), "--host", service.url]
    out, err = io.StringIO(), io.StringIO()
    assert db_main(argv, env, out, err) == 0, err.getvalue()
    conf = tmp_path / "GeoIP.conf"
    conf.write_text(f"AccountID {ACCOUNT}\nLicenseKey {KEY}\n", encoding="utf-8")
    (folder / "GeoLite2-ASN.mmdb").unlink()
    assert db_main([*argv, "--config", str(conf)], {}, out, err) == 0, err.getvalue()
    assert (folder / "GeoLite2-ASN.mmdb").read_bytes() == service.editions["GeoLite2-ASN"]


def test_the_licence_key_is_not_in_the_config_repr() -> None:
    assert KEY not in repr(UpdateConfig(ACCOUNT, KEY))


@pytest.mark.parametrize(
    ("signal_number", "status", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_mid_download_removes_the_partial_file(
    service: Service, folder: Path, signal_number: int, status: int, word: str
) -> None:
    service.stall.add("download")
    command = [sys.executable, "-m", "auditor", "db", *_argv(service, folder)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Readiness: the download request has reached the server, so the .partial exists.
        started = wait_for(lambda: service.requested.is_set() or child.poll() is not None)
        assert started
        assert child.poll() is None, child.communicate()
        assert any(name.endswith(".partial") for name in os.listdir(folder))
        child.send_signal(signal_number)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == status, err
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert word in err
    assert os.listdir(folder) == []


# --- DB-IP Lite: the monthly free files, no account


def _dbip_file(make_db: MakeDb, build_epoch: int, database_type: str = "DBIP-City-Lite") -> bytes:
    record = {
        "country": {"iso_code": "NL"},
        "location": {"latitude": 52.3676, "longitude": 4.9041},
        "city": {"names": {"en": "Amsterdam"}},
    }
    path = make_db(database_type, {"213.19.144.0/24": record}, build_epoch=build_epoch)
    return Path(path).read_bytes()


def _dbip_config(service: Service, folder: Path) -> UpdateConfig:
    return UpdateConfig(None, None, ("dbip-city-lite",), str(folder), dbip_host=service.url)


def test_dbip_lite_is_fetched_verified_and_installed_without_an_account(
    service: Service, folder: Path, make_db: MakeDb
) -> None:
    mmdb = _dbip_file(make_db, 1_793_577_600)  # 2026-11-02
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = gzip.compress(mmdb)
    out, err = io.StringIO(), io.StringIO()
    argv = ["update", "--dir", str(folder), "--dbip-host", service.url]
    assert db_main(argv, {}, out, err, now=NOW) == 0, err.getvalue()
    target = folder / "dbip-city-lite.mmdb"
    assert out.getvalue() == f"{target}: dbip-city-lite 2026-11 updated\n"
    assert target.read_bytes() == mmdb
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [path for path, _ in service.requests] == ["/free/dbip-city-lite-2026-11.mmdb.gz"]
    # What discovery then reads beside the country database, with DB-IP's coordinates.
    assert discover_databases([], {}, [str(folder)])[1] == str(target)
    with open_locator([str(target)]) as locator:
        (answer,) = locator.locate("213.19.144.104").answers
    assert (answer.country, answer.latitude, answer.longitude) == ("NL", 52.3676, 4.9041)


def test_dbip_falls_back_to_last_month_early_in_a_month(
    service: Service, folder: Path, make_db: MakeDb
) -> None:
    service.files["/free/dbip-city-lite-2026-10.mmdb.gz"] = gzip.compress(
        _dbip_file(make_db, 1_790_899_200)
    )
    (result,) = update_databases(_dbip_config(service, folder), NOW)
    assert (result.updated, result.date) == (True, "2026-10")
    assert [path for path, _ in service.requests] == [
        "/free/dbip-city-lite-2026-11.mmdb.gz",
        "/free/dbip-city-lite-2026-10.mmdb.gz",
    ]


def test_dbip_never_replaces_a_newer_database_with_an_older_one(
    service: Service, folder: Path, make_db: MakeDb
) -> None:
    target = folder / "dbip-city-lite.mmdb"
    newer = _dbip_file(make_db, 1_793_577_600)
    target.write_bytes(newer)
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = gzip.compress(
        _dbip_file(make_db, 1_790_899_200)
    )
    (result,) = update_databases(_dbip_config(service, folder), NOW)
    assert result.updated is False
    assert target.read_bytes() == newer
    assert os.listdir(folder) == ["dbip-city-lite.mmdb"]


def _corrupt_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda mmdb: _corrupt_crc(gzip.compress(mmdb)), "damaged"),
        (lambda mmdb: gzip.compress(mmdb)[:-20], "damaged"),
        (lambda mmdb: mmdb, "damaged"),  # not gzip at all
        (lambda mmdb: gzip.compress(b"\0" * 4096), "not a valid database"),
    ],
    ids=["crc", "truncated", "not-gzip", "not-mmdb"],
)
def test_a_damaged_dbip_download_installs_nothing(
    service: Service,
    folder: Path,
    make_db: MakeDb,
    body: Callable[[bytes], bytes],
    message: str,
) -> None:
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = body(_dbip_file(make_db, 1))
    argv = ["update", "--dir", str(folder), "--dbip-host", service.url]
    out, err = io.StringIO(), io.StringIO()
    assert db_main(argv, {}, out, err, now=NOW) == 2
    assert err.getvalue().count("\n") == 1
    assert message in err.getvalue()
    assert os.listdir(folder) == []


def test_a_dbip_file_of_another_kind_is_refused(
    service: Service, folder: Path, make_db: MakeDb
) -> None:
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = gzip.compress(
        _dbip_file(make_db, 1, database_type="GeoLite2-City")
    )
    with pytest.raises(DatabaseError, match="is a 'GeoLite2-City' database"):
        update_databases(_dbip_config(service, folder), NOW)
    assert os.listdir(folder) == []


def test_a_dbip_gzip_bomb_stops_at_the_bound(service: Service, folder: Path) -> None:
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = gzip.compress(b"\0" * (3 << 20))
    config = replace(_dbip_config(service, folder), max_mmdb_bytes=1 << 20)
    with pytest.raises(DatabaseError, match="unpacks to more than 1 MiB"):
        update_databases(config, NOW)
    assert os.listdir(folder) == []


def test_without_an_account_only_dbip_is_fetched_and_maxmind_is_refused() -> None:
    assert load_config({}, {}, os.devnull).edition_ids == ("dbip-city-lite",)
    with pytest.raises(UsageError, match="DB-IP Lite"):
        load_config({"edition_ids": "GeoLite2-City"}, {}, os.devnull)
    with_account = load_config({"account_id": "1", "license_key": "k"}, {}, os.devnull)
    assert with_account.edition_ids == ("GeoLite2-City", "GeoLite2-ASN", "dbip-city-lite")


def test_an_installed_dbip_month_is_not_downloaded_again(
    service: Service, folder: Path, make_db: MakeDb
) -> None:
    mmdb = _dbip_file(make_db, 1_793_577_600)
    service.files["/free/dbip-city-lite-2026-11.mmdb.gz"] = gzip.compress(mmdb)
    (first,) = update_databases(_dbip_config(service, folder), NOW)
    (second,) = update_databases(_dbip_config(service, folder), NOW)
    assert (first.updated, second.updated) == (True, False)
    assert (folder / "dbip-city-lite.mmdb").read_bytes() == mmdb
    assert os.listdir(folder) == ["dbip-city-lite.mmdb"]
    assert service.not_modified == 1  # the second request was answered 304, with no body
