"""studio.hub.download: catalogue, URL helpers and the downloader against a local server.

Every test talks only to an HTTP server on 127.0.0.1 started here (ephemeral port, background
thread), so the suite is fast and fully offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from studio.core.errors import StudioError
from studio.core.paths import models_cache_dir
from studio.hub.catalogue import CatalogEntry, load_catalog
from studio.hub.download import (
    PART_SUFFIX,
    DownloadCancelled,
    DownloadError,
    cache_file_name,
    download,
    is_url,
    resolve_model_source,
)



def _zip(payload: bytes) -> bytes:
    """A whole zip file (what a rosinality checkpoint is) holding ``payload`` uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", payload)
    return buffer.getvalue()


# Files that pass detect_format's header check and are whole (zip = rosinality checkpoint).
NETWORK = _zip(bytes(range(256)) * 160)  # ~40 KB
NETWORK_V2 = _zip(bytes(reversed(range(256))) * 170)
HTML = b"<!DOCTYPE html>\n<html><head><title>Download</title></head><body>Click here</body></html>\n"
NOT_A_NETWORK = b"just some text that is no network at all\n" * 20


# --------------------------------------------------------------------------------------------
# A small controllable HTTP server
# --------------------------------------------------------------------------------------------


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    ranges: bool = True                   # honour Range requests
    drop_after: int | None = None         # close the connection after this many body bytes (once)
    send_length: bool = True              # send Content-Length
    fake_length: int | None = None        # announce this Content-Length instead of the real one
    delay: float = 0.0                    # seconds to wait before answering
    etag: str | None = '"v1"'             # the file's validator (If-Range is honoured against it)
    trickle: float = 0.0                  # seconds between single bytes of the body
    extra: bytes = b""                    # sent after the body, beyond what Content-Length announced


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]


@dataclass
class FakeServer:
    """The test server's state: its routes, the requests it saw, and its base URL."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def paths_requested(self) -> list[str]:
        return [r.path for r in self.requests]


def _make_handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output quiet
            pass

        def do_GET(self) -> None:
            state.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            if route.delay:
                time.sleep(route.delay)
            if route.status != 200:
                self.send_error(route.status)
                return
            body, status, start = route.body, 200, 0
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if if_range is not None and if_range != route.etag:
                wanted = None     # the client's copy is of another version: send the whole file
            if wanted and route.ranges:
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            payload = body[start:]
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            if route.etag is not None:
                self.send_header("ETag", route.etag)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            if route.send_length:
                self.send_header("Content-Length", str(route.fake_length or len(payload)))
            self.end_headers()
            if route.fake_length is not None:
                return  # announce without sending: the client must refuse before reading
            if route.drop_after is not None:
                payload = payload[: route.drop_after]
                route.drop_after = None  # only the first answer is cut short
                self.close_connection = True
            try:
                if route.trickle:
                    for i in range(len(payload)):
                        self.wfile.write(payload[i:i + 1])
                        self.wfile.flush()
                        time.sleep(route.trickle)
                else:
                    self.wfile.write(payload + route.extra)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (cancel, size cap): expected

    return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True
    httpd.block_on_close = False     # a trickling answer must not hold up the next test
    state = FakeServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _make_handler(state)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------


def test_full_download_lands_in_the_cache_with_progress(server: FakeServer) -> None:
    server.routes["/nets/ffhq.pkl"] = Route(NETWORK)
    calls: list[tuple[int, int | None]] = []
    path = download(server.url("/nets/ffhq.pkl"), progress=lambda d, t: calls.append((d, t)), chunk_size=4096)
    assert path.parent == models_cache_dir()
    assert path.name.startswith("ffhq-") and path.suffix == ".pkl"
    assert path.read_bytes() == NETWORK
    assert _leftovers(path.parent) == sorted([path.name, "checksums.json"])  # no .part, no validator
    assert len(calls) > 5 and calls[-1] == (len(NETWORK), len(NETWORK))
    assert all(t == len(NETWORK) for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_cached_file_is_returned_without_a_request(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/a.pt"] = Route(NETWORK)
    digest = hashlib.sha256(NETWORK).hexdigest()
    first = download(server.url("/a.pt"), dest_dir=tmp_path, expected_sha256=digest)
    assert len(server.requests) == 1
    assert download(server.url("/a.pt"), dest_dir=tmp_path) == first
    assert download(server.url("/a.pt"), dest_dir=tmp_path, expected_sha256=digest.upper()) == first
    assert len(server.requests) == 1


def test_cached_file_with_wrong_checksum_is_fetched_again(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/a.pt"] = Route(NETWORK)
    path = download(server.url("/a.pt"), dest_dir=tmp_path)
    path.write_bytes(NETWORK[:-1] + b"X")  # corrupted on disk
    again = download(server.url("/a.pt"), dest_dir=tmp_path, expected_sha256=hashlib.sha256(NETWORK).hexdigest())
    assert again == path and again.read_bytes() == NETWORK and len(server.requests) == 2


def test_interrupted_download_keeps_every_byte_and_resumes_with_range(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/big.pkl"] = Route(NETWORK, drop_after=10_000)
    url = server.url("/big.pkl")
    with pytest.raises(DownloadError, match="interrupted|stopped") as info:
        download(url, dest_dir=tmp_path, chunk_size=4096)
    assert "resume" in str(info.value) and url in str(info.value)
    assert "after 10 KB of 41.1 KB (the connection dropped)" in str(info.value)   # what arrived, as it landed
    part = tmp_path / (cache_file_name(url) + PART_SUFFIX)
    assert part.read_bytes() == NETWORK[:10_000]    # all that arrived, not only whole chunks

    calls: list[tuple[int, int | None]] = []
    path = download(url, dest_dir=tmp_path, progress=lambda d, t: calls.append((d, t)), chunk_size=8192)
    assert path.read_bytes() == NETWORK
    assert server.requests[-1].headers.get("range") == "bytes=10000-"
    assert server.requests[-1].headers.get("if-range") == '"v1"'
    assert calls[0] == (10_000, len(NETWORK)) and calls[-1] == (len(NETWORK), len(NETWORK))
    assert _leftovers(tmp_path) == sorted([path.name, "checksums.json"])   # no .part, no validator left


def test_a_file_that_changed_on_the_server_is_not_spliced(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/net.pt"] = Route(NETWORK, drop_after=10_000)
    url = server.url("/net.pt")
    with pytest.raises(DownloadError, match="resume"):
        download(url, dest_dir=tmp_path)
    server.routes["/net.pt"] = Route(NETWORK_V2, etag='"v2"')      # a new version went up meanwhile
    path = download(url, dest_dir=tmp_path)
    assert server.requests[-1].headers.get("if-range") == '"v1"'
    assert path.read_bytes() == NETWORK_V2      # the new file whole, not 10 KB of the old one + the rest


def test_a_part_without_a_validator_starts_again_from_zero(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/net.pt"] = Route(NETWORK, etag=None)     # no ETag, no Last-Modified
    url = server.url("/net.pt")
    (tmp_path / (cache_file_name(url) + PART_SUFFIX)).write_bytes(b"PK\x03\x04 bytes of some other file")
    path = download(url, dest_dir=tmp_path)
    assert "range" not in server.requests[-1].headers
    assert path.read_bytes() == NETWORK


def test_server_without_range_support_restarts_from_zero(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/norange.pkl"] = Route(NETWORK, ranges=False, drop_after=5_000)
    url = server.url("/norange.pkl")
    with pytest.raises(DownloadError):
        download(url, dest_dir=tmp_path, chunk_size=1024)
    kept = (tmp_path / (cache_file_name(url) + PART_SUFFIX)).stat().st_size
    assert kept == 5_000
    path = download(url, dest_dir=tmp_path)
    assert server.requests[-1].headers.get("range") == f"bytes={kept}-"  # asked, got a 200
    assert path.read_bytes() == NETWORK


def test_complete_part_with_416_answer_is_accepted(server: FakeServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.hub.download as module

    server.routes["/done.pkl"] = Route(NETWORK)
    url = server.url("/done.pkl")

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt    # the studio stopped between the last byte and the rename

    with monkeypatch.context() as patch:
        patch.setattr(module, "_verify", crash)
        with pytest.raises(KeyboardInterrupt):
            download(url, dest_dir=tmp_path)
    path = download(url, dest_dir=tmp_path)
    assert path.read_bytes() == NETWORK
    assert server.requests[-1].headers.get("range") == f"bytes={len(NETWORK)}-"
    assert len(server.requests) == 2


def test_a_body_cut_short_without_a_length_is_not_cached(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/short.pt"] = Route(NETWORK, send_length=False, drop_after=30_000)
    url = server.url("/short.pt")
    with pytest.raises(DownloadError, match="incomplete .*zip directory.*deleted") as info:
        download(url, dest_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert _leftovers(tmp_path) == []            # nothing to be served from the cache ever after
    assert download(url, dest_dir=tmp_path).read_bytes() == NETWORK


def test_a_body_longer_than_its_length_is_not_cached(server: FakeServer, tmp_path: Path) -> None:
    # the server announces 20 KB of a 40 KB file and sends it all: the studio reads the 20 KB it was
    # promised, and the file's own structure shows that it is not whole
    route = Route(NETWORK[:20_000], extra=NETWORK[20_000:])
    server.routes["/long.pt"] = route
    with pytest.raises(DownloadError, match="incomplete"):
        download(server.url("/long.pt"), dest_dir=tmp_path)
    assert _leftovers(tmp_path) == []


def test_a_trickle_is_stopped_as_a_stall_and_kept_for_resume(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/slow.pt"] = Route(NETWORK, trickle=0.05)       # 20 bytes a second
    url = server.url("/slow.pt")
    started = time.monotonic()
    with pytest.raises(DownloadError, match="stalled .*run it again to resume"):
        download(url, dest_dir=tmp_path, stall_seconds=0.6)
    assert time.monotonic() - started < 5
    kept = (tmp_path / (cache_file_name(url) + PART_SUFFIX)).read_bytes()
    assert 0 < len(kept) < 100 and kept == NETWORK[: len(kept)]


def test_a_download_stops_at_its_deadline(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/slow.pt"] = Route(NETWORK, trickle=0.01)
    with pytest.raises(DownloadError, match="stopped downloading .* after 0 s"):
        download(server.url("/slow.pt"), dest_dir=tmp_path, max_seconds=0.3)


def test_cancel_is_heard_while_bytes_trickle_in(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/slow.pt"] = Route(NETWORK, trickle=0.05)
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        download(server.url("/slow.pt"), dest_dir=tmp_path, should_cancel=lambda: time.monotonic() - started > 0.3)
    assert time.monotonic() - started < 2      # not after a whole chunk of 64 KB (an hour at this rate)


def test_the_first_checksum_is_recorded_and_a_changed_file_is_reported(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/ffhq.pkl"] = Route(NETWORK)
    url = server.url("/ffhq.pkl")
    warnings: list[str] = []
    path = download(url, dest_dir=tmp_path, warn=warnings.append)
    record = json.loads((tmp_path / "checksums.json").read_text())
    assert record[path.name]["sha256"] == hashlib.sha256(NETWORK).hexdigest() and record[path.name]["url"] == url
    assert warnings == []

    path.unlink()                                               # the artist cleared the cache...
    server.routes["/ffhq.pkl"] = Route(NETWORK_V2, etag='"v2"')  # ...and the server's file changed
    download(url, dest_dir=tmp_path, warn=warnings.append)
    assert len(warnings) == 1 and "not the one first downloaded" in warnings[0] and url in warnings[0]
    assert hashlib.sha256(NETWORK).hexdigest()[:12] in warnings[0]
    again = json.loads((tmp_path / "checksums.json").read_text())
    assert again[path.name]["sha256"] == hashlib.sha256(NETWORK).hexdigest()   # the first stays the reference


def test_a_catalogued_checksum_is_checked(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.hub.catalogue as catalogue

    server.routes["/cat.pkl"] = Route(NETWORK)
    url = server.url("/cat.pkl")
    entry = CatalogEntry(name="Cat", url=url, resolution=64, licence="CC0", description="A cat.",
                         architecture="stylegan2", sha256="ab" * 32)
    monkeypatch.setattr(catalogue, "load_catalog", lambda: [entry])
    with pytest.raises(DownloadError, match="does not match its checksum"):
        resolve_model_source(url)


def test_wrong_checksum_is_refused_and_nothing_is_left(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/a.pkl"] = Route(NETWORK)
    wrong = "ab" * 32
    with pytest.raises(DownloadError, match="checksum") as info:
        download(server.url("/a.pkl"), dest_dir=tmp_path, expected_sha256=wrong)
    message = str(info.value)
    assert wrong[:12] in message and hashlib.sha256(NETWORK).hexdigest()[:12] in message
    assert "\n" not in message
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [404, 403, 500])
def test_http_errors_name_the_status_and_url(server: FakeServer, tmp_path: Path, status: int) -> None:
    server.routes["/gone.pkl"] = Route(status=status)
    url = server.url("/gone.pkl")
    with pytest.raises(DownloadError) as info:
        download(url, dest_dir=tmp_path)
    assert str(status) in str(info.value) and url in str(info.value)
    assert info.value.status == status and isinstance(info.value, StudioError)
    assert _leftovers(tmp_path) == []


def test_html_page_is_refused(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/model.pkl"] = Route(HTML, content_type="text/html")
    with pytest.raises(DownloadError, match="the server sent a web page, not a network file"):
        download(server.url("/model.pkl"), dest_dir=tmp_path)
    assert _leftovers(tmp_path) == []


def test_other_non_network_file_is_refused(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/model.pkl"] = Route(NOT_A_NETWORK)
    with pytest.raises(DownloadError, match="not a network the studio can read"):
        download(server.url("/model.pkl"), dest_dir=tmp_path)
    assert _leftovers(tmp_path) == []


def test_too_large_content_length_is_refused_before_the_body(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/huge.pkl"] = Route(NETWORK, fake_length=10 * 2**30)
    calls: list[tuple[int, int | None]] = []
    with pytest.raises(DownloadError, match="limit"):
        download(server.url("/huge.pkl"), dest_dir=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls == [] and _leftovers(tmp_path) == []


def test_body_growing_past_the_cap_is_stopped_and_deleted(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/nolength.pkl"] = Route(NETWORK, send_length=False)
    with pytest.raises(DownloadError, match="limit"):
        download(server.url("/nolength.pkl"), dest_dir=tmp_path, max_bytes=20_000, chunk_size=4096)
    assert _leftovers(tmp_path) == []


def test_cancel_raises_and_keeps_the_part_for_resume(server: FakeServer, tmp_path: Path) -> None:
    server.routes["/c.pkl"] = Route(NETWORK)
    url = server.url("/c.pkl")
    received: list[int] = []
    with pytest.raises(DownloadCancelled) as info:
        download(
            url,
            dest_dir=tmp_path,
            chunk_size=4096,
            progress=lambda done, total: received.append(done),
            should_cancel=lambda: bool(received) and received[-1] >= 8192,
        )
    assert not isinstance(info.value, DownloadError) and isinstance(info.value, StudioError)
    part = tmp_path / (cache_file_name(url) + PART_SUFFIX)
    kept = part.stat().st_size
    assert info.value.part_path == part and kept == received[-1] and 0 < kept < len(NETWORK)
    assert not (tmp_path / cache_file_name(url)).exists()
    assert download(url, dest_dir=tmp_path).read_bytes() == NETWORK
    assert server.requests[-1].headers.get("range") == f"bytes={kept}-"


def test_non_http_urls_are_refused_without_network(server: FakeServer, tmp_path: Path) -> None:
    for url in ("ftp://example.org/a.pkl", "file:///tmp/a.pkl", "http://", "not a url"):
        with pytest.raises(DownloadError, match="http"):
            download(url, dest_dir=tmp_path)
    assert server.requests == []


def test_connection_refused_and_timeout_are_one_line_errors(server: FakeServer, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect") as info:
        download(f"http://127.0.0.1:{port}/a.pkl", dest_dir=tmp_path, timeout=2)
    assert "\n" not in str(info.value)
    server.routes["/slow.pkl"] = Route(NETWORK, delay=0.6)
    with pytest.raises(DownloadError, match="did not answer within 0.2 s"):
        download(server.url("/slow.pkl"), dest_dir=tmp_path, timeout=0.2)


# --------------------------------------------------------------------------------------------
# Names, URLs and sources
# --------------------------------------------------------------------------------------------


def test_cache_file_names_are_safe_and_distinct() -> None:
    a = cache_file_name("https://host/x/ffhq.pkl")
    b = cache_file_name("https://other/y/ffhq.pkl")
    assert a != b and a.startswith("ffhq-") and a.endswith(".pkl") and b.endswith(".pkl")
    assert cache_file_name("https://host/x/ffhq.pkl#frag") == a
    weird = cache_file_name("https://host/dl/..%2F..%2Fetc%2Fmy%20model%3F.PT?token=1")
    assert "/" not in weird and " " not in weird and ".." not in weird and weird.endswith(".pt")
    assert cache_file_name("https://host/").startswith("network-")


def test_is_url_and_resolve_model_source(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_url("https://host/a.pkl") and is_url("  http://host/a.pkl") and is_url("ftp://host/a")
    assert not is_url("/home/me/a.pkl") and not is_url("C:\\models\\a.pkl") and not is_url("~/a.pkl")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_model_source("~/nets/a.pkl") == tmp_path / "nets" / "a.pkl"
    assert resolve_model_source("file:///tmp/some%20net.pkl") == Path("/tmp/some net.pkl")
    server.routes["/r.pkl"] = Route(NETWORK)
    calls: list[int] = []
    path = resolve_model_source(server.url("/r.pkl"), progress=lambda d, t: calls.append(d))
    assert path.read_bytes() == NETWORK and calls[-1] == len(NETWORK)


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------


def test_bundled_catalog_is_valid() -> None:
    entries = load_catalog()
    assert len(entries) >= 7 and all(isinstance(e, CatalogEntry) for e in entries)
    assert len({e.name for e in entries}) == len(entries)
    assert all(e.url.startswith("https://") for e in entries)
    names = {cache_file_name(e.url) for e in entries}
    assert len(names) == len(entries)
    ffhq = next(e for e in entries if e.url.endswith("/ffhq.pkl"))
    assert ffhq.resolution == 1024 and "NC" in ffhq.licence


def _write_catalog(tmp_path: Path, models: object, version: object = 1) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"version": version, "models": models}))
    return path


GOOD = {
    "name": "Test net",
    "url": "https://example.org/test.pkl",
    "resolution": 256,
    "licence": "CC0",
    "description": "A test.",
    "architecture": "stylegan2",
}


def test_catalog_accepts_optional_fields(tmp_path: Path) -> None:
    entry = dict(GOOD, sha256="AB" * 32, size=123, source_page="https://example.org/")
    (loaded,) = load_catalog(_write_catalog(tmp_path, [entry]))
    assert loaded.sha256 == "ab" * 32 and loaded.size == 123 and loaded.resolution == 256


@pytest.mark.parametrize(
    ("models", "version", "message"),
    [
        ([GOOD], 2, "version"),
        ({"x": 1}, 1, "'models' list"),
        ([dict(GOOD, url="ftp://x/y.pkl")], 1, "'url'"),
        ([dict(GOOD, resolution="big")], 1, "'resolution'"),
        ([dict(GOOD, resolution=True)], 1, "'resolution'"),
        ([dict(GOOD, sha256="123")], 1, "'sha256'"),
        ([dict(GOOD, size=-1)], 1, "'size'"),
        ([{k: v for k, v in GOOD.items() if k != "licence"}], 1, "'licence'"),
        ([dict(GOOD, licnce="typo")], 1, "unknown field"),
        ([GOOD, GOOD], 1, "appears twice"),
        (["nope"], 1, "JSON object"),
    ],
)
def test_catalog_errors_are_clear(tmp_path: Path, models: object, version: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_catalog(_write_catalog(tmp_path, models, version))


def test_catalog_that_is_not_json_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_catalog(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_catalog(tmp_path / "missing.json")


def test_the_cli_opens_a_network_by_url_through_the_cache(server: FakeServer, capsys: pytest.CaptureFixture) -> None:
    from studio.cli import main
    from studio.gan.formats import DEFAULT_NETWORK_PATH

    server.routes["/abstract.safetensors"] = Route(DEFAULT_NETWORK_PATH.read_bytes())
    url = server.url("/abstract.safetensors")
    assert main(["info", "--json", url]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] and (models_cache_dir() / cache_file_name(url)).is_file()
    assert main(["info", url]) == 0 and len(server.requests) == 1      # the second time from the cache

    server.routes["/gone.pkl"] = Route(status=404)
    assert main(["info", server.url("/gone.pkl")]) != 0
    err = capsys.readouterr().err
    assert "404" in err and "Traceback" not in err
