"""weather() without a path: the pooch download, against a local HTTP server only.

The default suite never touches the real URL: every test passes its own URL on
127.0.0.1, or a folder that already holds the file.
"""

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from streamlearn import datasets
from streamlearn.datasets import WEATHER_SHA256, fetch_weather, weather

WTH = Path(__file__).parents[1].parent / "shared" / "data" / "WTH.csv"
needs_wth = pytest.mark.skipif(not WTH.is_file(), reason=f"real weather file not available at {WTH}")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1 (stopped after the test)."""
    servers = []

    def start(folder):
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@needs_wth
def test_weather_downloads_once_checks_the_hash_and_caches(tmp_path, serve, monkeypatch):
    served = tmp_path / "served" / "data"
    served.mkdir(parents=True)
    shutil.copy(WTH, served / "WTH.csv")
    url = serve(tmp_path / "served") + "/data/WTH.csv"
    cache = tmp_path / "cache"
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(cache))
    monkeypatch.setattr(datasets, "WEATHER_URL", url)
    assert datasets.data_dir() == cache

    data = weather(horizon_hours=24)  # no path: downloads into the cache
    cached = cache / "WTH.csv"
    assert cached.is_file()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == WEATHER_SHA256
    assert data.U_train.shape == (33576, 9) and data.U_test.shape == (1440, 9)

    (served / "WTH.csv").unlink()  # the server no longer has it: the cache is used
    again = weather(horizon_hours=24)
    assert (again.U_test == data.U_test).all()
    assert fetch_weather(url=url) == cached


def test_a_download_with_the_wrong_hash_is_refused_and_not_kept(tmp_path, serve):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "WTH.csv").write_text("date,Visibility\n1/1/2010 0:00,10.0\n")
    url = serve(tmp_path / "served") + "/WTH.csv"
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="not the expected file") as info:
        fetch_weather(url=url, folder=cache)
    assert WEATHER_SHA256 in str(info.value) and str(cache / "WTH.csv") in str(info.value)
    assert not (cache / "WTH.csv").exists()


def test_no_network_fails_with_one_message_saying_where_to_put_the_file(tmp_path, serve,
                                                                         monkeypatch):
    url = serve(tmp_path) + "/missing/WTH.csv"  # 404, as good as no network
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError) as info:
        fetch_weather(url=url, folder=cache)
    message = str(info.value)
    assert url in message and str(cache / "WTH.csv") in message
    assert datasets.DATA_DIR_ENV in message and WEATHER_SHA256 in message
    # a closed port: refused connection, same kind of message
    with pytest.raises(ConnectionError, match="Without network"):
        fetch_weather(url="http://127.0.0.1:9/WTH.csv", folder=cache)


@needs_wth
def test_a_file_put_in_the_cache_by_hand_is_used_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))
    shutil.copy(WTH, tmp_path / "WTH.csv")
    # an unreachable URL: the verified cached file needs no download
    assert fetch_weather(url="http://127.0.0.1:9/WTH.csv") == tmp_path / "WTH.csv"


def test_data_dir_defaults_to_the_user_cache(monkeypatch):
    import pooch

    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    assert datasets.data_dir() == Path(pooch.os_cache("streamlearn"))


def test_an_explicit_path_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "fetch_weather", lambda **kw: pytest.fail("downloaded"))
    with pytest.raises(FileNotFoundError, match="nope"):
        weather(tmp_path / "nope.csv", 24)
