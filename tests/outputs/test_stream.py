"""The MJPEG stream, read by real HTTP clients on 127.0.0.1."""
from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.outputs.stream import BOUNDARY, MjpegServer, StreamSettings


@pytest.fixture
def server():
    srv = MjpegServer(StreamSettings(port=0))
    srv.start()
    yield srv
    srv.stop()


class Producer:
    """Sends frames whose grey level counts up, ``fps`` a second, until stopped."""

    def __init__(self, server, size=(160, 120), fps=50.0, noise=False):
        self.server, self.size, self.fps, self.noise = server, size, fps, noise
        self.sent = 0
        self.longest_send = 0.0
        self._stop = threading.Event()
        self._rng = np.random.default_rng(0)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def frame(self, i):
        w, h = self.size
        if self.noise:  # incompressible: every JPEG is large
            return self._rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        return np.full((h, w, 3), (i * 5) % 250, np.uint8)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            f = self.frame(i)
            t = time.perf_counter()
            self.server.send(f, t)
            self.longest_send = max(self.longest_send, time.perf_counter() - t)
            self.sent += 1
            i += 1
            self._stop.wait(1 / self.fps)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(timeout=5)


def read_parts(port, count, path="/stream.mjpg", timeout=10.0):
    """The first ``count`` JPEGs of the stream, decoded, read as any client would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path)
    resp = conn.getresponse()
    assert resp.status == 200
    kind = resp.getheader("Content-Type")
    assert kind == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    images = []
    try:
        while len(images) < count:
            line = resp.fp.readline()
            if not line:
                break
            if line.strip() != f"--{BOUNDARY}".encode():
                continue
            headers = {}
            while True:
                h = resp.fp.readline().strip()
                if not h:
                    break
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            assert headers["content-type"] == "image/jpeg"
            data = resp.fp.read(int(headers["content-length"]))
            assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"  # a whole JPEG
            images.append(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    finally:
        conn.close()
    return images


def test_the_stream_shows_changing_jpeg_frames(server):
    assert server.url.startswith("http://127.0.0.1:")
    with Producer(server):
        images = read_parts(server.port, 8)
    assert len(images) == 8
    assert all(im.shape == (120, 160, 3) for im in images)
    levels = [int(im.mean()) for im in images]
    assert len(set(levels)) >= 6  # the picture moves
    assert server.status().frames_encoded >= 8


def test_two_viewers_at_once_both_get_frames(server):
    results = {}

    def watch(name):
        results[name] = read_parts(server.port, 10)

    with Producer(server):
        viewers = [threading.Thread(target=watch, args=(n,)) for n in ("a", "b")]
        for v in viewers:
            v.start()
        deadline = time.monotonic() + 5
        while server.status().viewers < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.status().viewers == 2  # connected at the same time
        for v in viewers:
            v.join(timeout=20)
    assert len(results["a"]) == 10 and len(results["b"]) == 10
    assert len({int(im.mean()) for im in results["a"]}) >= 6
    assert len({int(im.mean()) for im in results["b"]}) >= 6


def test_a_viewer_that_stops_reading_blocks_nobody(server):
    """A client asks for the stream and never reads: the producer goes on at full pace,
    another viewer keeps getting new frames, and the server still stops at once."""
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        with Producer(server, size=(640, 480), fps=60, noise=True) as producer:
            time.sleep(1.0)  # big frames fill the stuck client's buffers within this
            sent_before = producer.sent
            images = read_parts(server.port, 15)
            time.sleep(0.5)
            sent_after = producer.sent
        assert len(images) == 15
        assert sent_after - sent_before >= 30  # the producer never waited on a viewer
        assert producer.longest_send < 0.5  # a send is a pointer swap (generous for CI)
        # the stuck client really was stuck: it holds only what the buffers took
        encoded = server.status().frames_encoded
        stuck.settimeout(0.2)
        received = b""
        with contextlib.suppress(TimeoutError, OSError):
            while chunk := stuck.recv(1 << 20):
                received += chunk
        assert received.count(f"--{BOUNDARY}".encode()) <= encoded // 2
        t = time.monotonic()
        server.stop()
        assert time.monotonic() - t < 5
    finally:
        stuck.close()


def test_the_page_shows_the_stream_and_the_snapshot_is_the_newest_frame(server):
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        assert resp.headers.get_content_type() == "text/html"
        page = resp.read().decode()
    assert '<img src="/stream.mjpg"' in page
    assert f"http://127.0.0.1:{server.port}/stream.mjpg" in page  # the URL for OBS / ffmpeg

    with pytest.raises(urllib.error.HTTPError) as err:  # nothing sent yet
        urllib.request.urlopen(server.url + "snapshot.jpg", timeout=5)
    err.value.close()  # the error is the response: its connection stays open until closed
    assert err.value.code == 503
    server.send(np.full((90, 120, 3), 77, np.uint8))
    with urllib.request.urlopen(server.url + "snapshot.jpg", timeout=5) as resp:
        assert resp.headers.get_content_type() == "image/jpeg"
        im = cv2.imdecode(np.frombuffer(resp.read(), np.uint8), cv2.IMREAD_COLOR)
    assert im.shape == (90, 120, 3) and abs(int(im.mean()) - 77) <= 2

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url + "nothing-here", timeout=5)
    err.value.close()
    assert err.value.code == 404


def test_local_only_by_default_and_a_taken_port_is_a_clear_error(server):
    assert StreamSettings().host == "127.0.0.1"
    assert server._server.server_address[0] == "127.0.0.1"
    other = MjpegServer(StreamSettings(port=server.port))
    with pytest.raises(PuppetError) as err:
        other.start()
    assert f"Port {server.port} on 127.0.0.1 is already in use" in err.value.message
