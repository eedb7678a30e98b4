"""`audit db update` against a local stand-in for MaxMind's update service."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from auditor.errors import DatabaseError, UsageError
from auditor.geo.cli import db_main
from auditor.geo.update import UpdateConfig, load_config, parse_geoip_conf, update_databases
from tests.geo.conftest import MakeDb

ACCOUNT, KEY = "123456", "secret-licence-key"
LAST_MODIFIED = "Tue, 16 Jun 2026 10:00:00 GMT"


@dataclass
class Service:
    """What the fake service publishes, and what it was asked."""

    url: str = ""
    editions: dict[str, bytes] = field(default_factory=dict)  # edition -> .mmdb bytes
    archive_override: bytes | None = None
    md5_override: str | None = None
    redirect_to: str | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, auth)

    def archive(self, edition: str) -> bytes:
        if self.archive_override is not None:
            return self.archive_override
        return make_archive(edition, self.editions[edition])


def make_archive(edition: str, mmdb: bytes, member: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("COPYRIGHT.txt", b"(c) MaxMind"), (member or f"{edition}.mmdb", mmdb)):
            info = tarfile.TarInfo(f"{edition}_20260616/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _handler(service: Service) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{KEY}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            auth = self.headers.get("Authorization")
            service.requests.append((url.path, auth))
            if url.path.startswith("/storage/"):
                return self._send(200, service.archive(url.path.rsplit("/", 1)[-1]))
            if auth != expected:
                return self._send(401, b'{"code":"AUTHORIZATION_INVALID"}')
            if url.path == "/geoip/updates/metadata":
                return self._metadata(query["edition_id"])
            edition = url.path.split("/")[3]
            if service.redirect_to:
                self.send_response(302)
                self.send_header("Location", f"{service.redirect_to}/storage/{edition}")
                self.end_headers()
                return None
            assert query == {"date": "20260616", "suffix": "tar.gz"}
            return self._send(200, service.archive(edition))

        def _metadata(self, edition: str) -> None:
            if edition not in service.editions:
                return self._send(404, b'{"code":"NOT_FOUND"}')
            published = hashlib.md5(service.editions[edition], usedforsecurity=False)
            md5 = service.md5_override or published.hexdigest()
            body = {"databases": [{"edition_id": edition, "date": "2026-06-16", "md5": md5}]}
            return self._send(200, json.dumps(body).encode())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def service(make_db: MakeDb) -> Iterator[Service]:
    state = Service()
    city = make_db("GeoLite2-City", {"81.2.69.0/24": {"country": {"iso_code": "GB"}}})
    asn = make_db("GeoLite2-ASN", {"81.2.69.0/24": {"autonomous_system_number": 20712}})
    state.editions = {
        "GeoLite2-City": Path(city).read_bytes(),
        "GeoLite2-ASN": Path(asn).read_bytes(),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


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
    results = update_databases(_config(service, folder))
    assert [(r.edition_id, r.updated, r.date) for r in results] == [
        ("GeoLite2-City", True, "2026-06-16"),
        ("GeoLite2-ASN", True, "2026-06-16"),
    ]
    city = folder / "GeoLite2-City.mmdb"
    assert city.read_bytes() == service.editions["GeoLite2-City"]
    assert city.stat().st_mtime == 1781604000  # Last-Modified, as geoipupdate keeps it
    assert sorted(p.name for p in folder.iterdir()) == ["GeoLite2-ASN.mmdb", "GeoLite2-City.mmdb"]


def test_current_files_are_not_downloaded_again(service: Service, folder: Path) -> None:
    update_databases(_config(service, folder))
    service.requests.clear()
    results = update_databases(_config(service, folder))
    assert [r.updated for r in results] == [False, False]
    assert [path for path, _ in service.requests] == ["/geoip/updates/metadata"] * 2


def test_rejected_credentials(service: Service, folder: Path) -> None:
    with pytest.raises(DatabaseError, match=r"refused the account ID or licence key \(HTTP 401\)"):
        update_databases(_config(service, folder, key="wrong"))


def _existing(folder: Path) -> Path:
    existing = folder / "GeoLite2-City.mmdb"
    existing.write_bytes(b"old database")
    return existing


def test_md5_mismatch_keeps_the_old_file(service: Service, folder: Path) -> None:
    existing = _existing(folder)
    service.md5_override = "0" * 32
    with pytest.raises(DatabaseError, match="has MD5"):
        update_databases(_config(service, folder))
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
        update_databases(_config(service, folder))
    assert existing.read_bytes() == b"old database"
    assert [p.name for p in folder.iterdir()] == ["GeoLite2-City.mmdb"]


def test_valid_archive_with_an_unreadable_database(service: Service, folder: Path) -> None:
    junk = b"\x00" * 5000
    service.editions["GeoLite2-City"] = junk  # the published MD5 matches the junk
    with pytest.raises(DatabaseError, match="is not a valid database"):
        update_databases(_config(service, folder))
    assert not (folder / "GeoLite2-City.mmdb").exists()


def test_edition_mismatch_is_refused(service: Service, folder: Path) -> None:
    service.editions["GeoLite2-City"] = service.editions["GeoLite2-ASN"]
    with pytest.raises(DatabaseError, match="is a 'GeoLite2-ASN' database"):
        update_databases(_config(service, folder))


def test_redirect_elsewhere_does_not_carry_the_licence_key(service: Service, folder: Path) -> None:
    port = service.url.rsplit(":", 1)[1]
    service.redirect_to = f"http://localhost:{port}"  # another host name for the same server
    update_databases(_config(service, folder))
    storage = [auth for path, auth in service.requests if path.startswith("/storage/")]
    assert storage == [None, None]
    assert (folder / "GeoLite2-ASN.mmdb").read_bytes() == service.editions["GeoLite2-ASN"]


def test_unreachable_service(folder: Path) -> None:
    config = UpdateConfig(ACCOUNT, KEY, ("GeoLite2-City",), str(folder), "http://127.0.0.1:9")
    with pytest.raises(DatabaseError, match="cannot reach"):
        update_databases(config)


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
        ("GeoLite2-Country", "GeoLite2-ASN"),
        "/conf/dir",
        "https://updates.example.com",
    )
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
        ({}, "account ID and licence key are needed"),
        ({"account_id": "abc", "license_key": "k"}, "not a number"),
        ({"account_id": "1", "license_key": "k", "edition_ids": "../etc"}, "not a MaxMind edition"),
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


def test_db_main_update(service: Service, folder: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "update",
        "--account-id",
        ACCOUNT,
        "--license-key",
        KEY,
        "--edition",
        "GeoLite2-ASN",
        "--dir",
        str(folder),
        "--host",
        service.url,
    ]
    assert db_main(argv, {}, out, err) == 0
    assert out.getvalue() == f"{folder}/GeoLite2-ASN.mmdb: GeoLite2-ASN 2026-06-16 updated\n"
    assert err.getvalue() == ""
    bad = [*argv[:4], "wrong", *argv[5:]]
    assert db_main(bad, {}, out, err) == 2
    assert err.getvalue().count("\n") == 1
    assert "refused" in err.getvalue()
    assert os.listdir(folder) == ["GeoLite2-ASN.mmdb"]
