"""The living portrait over the network: MJPEG over HTTP.

``http://HOST:PORT/`` is a small page that shows the stream; ``/stream.mjpg``
is the stream itself (``multipart/x-mixed-replace``: browsers, OBS's Media
Source or Browser Source, VLC and ``ffmpeg -i`` open it); ``/snapshot.jpg``
is the newest frame.  The server binds to 127.0.0.1 unless told otherwise.

Every frame is JPEG-encoded once, on a thread of the server's own, and only
while someone watches.  Each viewer has a thread that sends the newest JPEG
when it is ready for one: a viewer on a slow link skips frames, and a viewer
that stops reading holds up nobody, not the app and not the other viewers.
:meth:`MjpegServer.send` only swaps a reference.

Intended wiring (live engine and window)::

    server = MjpegServer(StreamSettings(port=8080))      # host="0.0.0.0" only when asked
    url = server.start()          # PuppetError when the port is taken
    engine.add_sink(server.send)  # fn(frame_bgr, capture_time): never blocks
    ...
    engine.remove_sink(server.send); server.stop()
"""
from __future__ import annotations

import contextlib
import html
import socket
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from puppet.errors import PuppetError
from puppet.threads import join

BOUNDARY = "puppetframe"
LOCAL = "127.0.0.1"


@dataclass(frozen=True)
class StreamSettings:
    port: int = 8080  # 0: any free port
    host: str = LOCAL  # "0.0.0.0" (every network) only when the user asks for it
    quality: int = 80  # JPEG quality, 1..100
    max_fps: float = 30.0  # frames encoded per second at most
    keepalive: float = 1.0  # seconds: the last frame is sent again when nothing new comes

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be between 1 and 100, got {self.quality}")


@dataclass(frozen=True)
class StreamStatus:
    running: bool
    url: str  # the page (what to open in a browser)
    stream_url: str  # the stream itself (for OBS's Media Source, ffmpeg, VLC)
    viewers: int
    frames_encoded: int
    message: str


class _Jpegs:
    """The newest encoded frame; viewers wait on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = 0
        self.data: bytes | None = None
        self.closed = False

    def publish(self, data: bytes) -> None:
        with self.cond:
            self.seq += 1
            self.data = data
            self.cond.notify_all()

    def next_after(self, seen: int, timeout: float) -> tuple[int, bytes | None]:
        """The newest JPEG newer than ``seen``, or after ``timeout`` the newest anyway."""
        with self.cond:
            self.cond.wait_for(lambda: self.seq != seen or self.closed, timeout=timeout)
            return self.seq, self.data

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # a restarted stream may take its port back at once; on Windows this option would
    # let two servers share a port, so it stays off there
    allow_reuse_address = sys.platform != "win32"
    owner: MjpegServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10.0  # a viewer that reads nothing for this long is dropped
    server_version = "Puppet"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet, not on stderr
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        if path in ("/", "/index.html"):
            self._send_bytes(owner.page(self.headers.get("Host")).encode(), "text/html; "
                             "charset=utf-8")
        elif path == "/stream.mjpg":
            owner.stream_to(self)
        elif path == "/snapshot.jpg":
            data = owner.snapshot()
            if data is None:
                self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send_bytes(data, "image/jpeg")
        else:
            self.send_error(HTTPStatus.NOT_FOUND, "Not here: try / or /stream.mjpg")

    def _send_bytes(self, data: bytes, kind: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)


class MjpegServer:
    """An HTTP server that streams the output frames as MJPEG."""

    def __init__(self, settings: StreamSettings = StreamSettings()):
        self.settings = settings
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._encode_thread: threading.Thread | None = None
        self._jpegs = _Jpegs()
        self._raw_cond = threading.Condition()
        self._raw: np.ndarray | None = None
        self._raw_seq = 0
        self._encoded_seq = 0
        self._stop = threading.Event()
        self._viewers = 0
        self._viewers_lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._frames_encoded = 0
        self._snapshot_lock = threading.Lock()

    # --- control ----------------------------------------------------------------------
    def start(self) -> str:
        """Start serving; returns the page's URL.  :class:`PuppetError` if the port is taken."""
        if self._server is not None:
            return self.url
        s = self.settings
        try:
            server = _Server((s.host, s.port), _Handler)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # address in use (Linux, macOS, Windows)
                raise PuppetError(f"port {s.port} on {s.host} is already in use",
                                  "choose another port") from exc
            raise PuppetError(f"cannot serve the stream on {s.host}:{s.port} "
                              f"({exc.strerror or exc})",
                              "choose another port, or leave the address at 127.0.0.1") from exc
        server.owner = self
        self._server = server
        self._stop.clear()
        self._jpegs = _Jpegs()
        self._serve_thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.2}, name="puppet-stream-server", daemon=True)
        self._encode_thread = threading.Thread(target=self._encode_loop,
                                               name="puppet-stream-encode", daemon=True)
        self._serve_thread.start()
        self._encode_thread.start()
        return self.url

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        if host in ("", "0.0.0.0", "::"):
            host = _lan_address()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def status(self) -> StreamStatus:
        running = self._server is not None
        if not running:
            message = "The network stream is off."
        else:
            where = "this computer only" if self.settings.host == LOCAL else \
                "every computer on the network"
            message = (f"Streaming at {self.url} ({where}); {self._viewers} watching.")
        return StreamStatus(running, self.url, self.url + "stream.mjpg", self._viewers,
                            self._frames_encoded, message)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        with self._raw_cond:
            self._raw_cond.notify_all()
        self._jpegs.close()
        with self._viewers_lock:
            sockets = list(self._sockets)
        for sock in sockets:  # wake viewers stuck in a send to a client that reads nothing
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.shutdown()
        server.server_close()
        for thread in (self._serve_thread, self._encode_thread):
            if thread is not None:
                join(thread, 2)
        with self._raw_cond:
            self._raw = None

    # --- frames -----------------------------------------------------------------------
    def send(self, frame_bgr: np.ndarray, capture_time: float | None = None) -> None:
        """Hand over the newest output frame; returns at once."""
        if self._server is None:
            return
        with self._raw_cond:
            self._raw = frame_bgr
            self._raw_seq += 1
            self._raw_cond.notify()

    def _encode(self, frame: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.settings.quality])
        if not ok:  # pragma: no cover - OpenCV encodes any BGR image
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()

    def _encode_loop(self) -> None:
        min_gap = 1.0 / self.settings.max_fps if self.settings.max_fps > 0 else 0.0
        while not self._stop.is_set():
            with self._raw_cond:
                self._raw_cond.wait_for(lambda: self._stop.is_set() or (
                    self._raw_seq != self._encoded_seq and self._viewers > 0), timeout=0.5)
                if self._stop.is_set():
                    return
                if self._raw_seq == self._encoded_seq or self._viewers == 0:
                    continue
                frame, seq = self._raw, self._raw_seq
            if frame is None:
                continue
            self._jpegs.publish(self._encode(frame))
            self._encoded_seq = seq
            self._frames_encoded += 1
            if min_gap and self._stop.wait(min_gap):
                return

    def snapshot(self) -> bytes | None:
        """The newest frame as JPEG (encoded now if no viewer made it already)."""
        with self._raw_cond:
            frame, seq = self._raw, self._raw_seq
        if frame is None:
            return None
        if seq == self._encoded_seq and self._jpegs.data is not None:
            return self._jpegs.data
        with self._snapshot_lock:
            return self._encode(frame)

    # --- viewers ----------------------------------------------------------------------
    def stream_to(self, handler: _Handler) -> None:
        """Serve one viewer until it goes away or the server stops (its own thread)."""
        sock = handler.connection
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-store, no-cache, must-revalidate")
        handler.send_header("Pragma", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        with self._viewers_lock:
            self._viewers += 1
            self._sockets.add(sock)
        with self._raw_cond:
            self._raw_cond.notify()  # someone watches now: encode
        jpegs = self._jpegs
        seen = 0
        try:
            while not self._stop.is_set():
                seq, data = jpegs.next_after(seen, self.settings.keepalive)
                if self._stop.is_set() or jpegs.closed:
                    break
                if data is None:
                    continue
                seen = seq
                head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n").encode()
                handler.wfile.write(head + data + b"\r\n")
                handler.wfile.flush()
        except (OSError, ValueError):
            pass  # the viewer went away, or stopped reading for too long
        finally:
            with self._viewers_lock:
                self._viewers -= 1
                self._sockets.discard(sock)
            handler.close_connection = True

    def page(self, host_header: str | None) -> str:
        base = f"http://{host_header}/" if host_header else self.url
        stream = html.escape(base + "stream.mjpg")
        return PAGE.format(stream=stream, snapshot=html.escape(base + "snapshot.jpg"))


def _lan_address() -> str:
    """This computer's address on the local network (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        return s.getsockname()[0]
    return "127.0.0.1"


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Puppet: the living portrait</title>
<style>
  html, body {{ margin: 0; height: 100%; background: #111; color: #bbb;
               font: 14px/1.4 system-ui, sans-serif; }}
  main {{ display: flex; flex-direction: column; height: 100%; }}
  .view {{ flex: 1; min-height: 0; display: flex; align-items: center; justify-content: center; }}
  .view img {{ max-width: 100%; max-height: 100%; object-fit: contain; }}
  footer {{ padding: 6px 12px; font-size: 12px; }}
  code {{ color: #eee; }}
  body.bare footer {{ display: none; }}
</style>
</head>
<body>
<main>
  <div class="view"><img src="/stream.mjpg" alt="The living portrait, live"></div>
  <footer>Puppet live stream. In OBS add a <em>Media Source</em> (untick "Local File")
    with <code>{stream}</code>, or a <em>Browser Source</em> with this page and
    <code>?bare</code> at the end. ffmpeg / VLC: <code>{stream}</code>.
    The newest frame: <code>{snapshot}</code>.</footer>
</main>
<script>if (location.search.indexOf("bare") >= 0) document.body.className = "bare";</script>
</body>
</html>
"""
