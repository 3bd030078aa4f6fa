"""Sound sources: the microphone (sounddevice), and generated sound.

An audio source hands blocks of float32 samples, shaped (frames, channels), to
one callback together with the capture time of the block's first sample on
:data:`puppet.timeline.CLOCK`; the callback runs on the source's own thread
and must return quickly.  Recorders take any source, so tests (and a demo)
can feed a generated signal where a real microphone would be.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from puppet.errors import PuppetError, not_installed
from puppet.threads import join
from puppet.timeline import CLOCK, AudioFormat, concat_samples

AudioCallback = Callable[[np.ndarray, float], None]  # (block, capture time of its first sample)


class AudioSource(Protocol):
    format: AudioFormat
    description: str

    def start(self, callback: AudioCallback) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class AudioTrack:
    """A whole sound track: float32 samples (frames, channels) from time 0."""

    samples: np.ndarray
    format: AudioFormat

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.format.samplerate

    def reader(self) -> TrackReader:
        """Its samples read in order, like a :class:`puppet.sources.video.SoundReader`."""
        return TrackReader(self)


class TrackReader:
    """An :class:`AudioTrack` read in order, ``n`` samples at a time."""

    error = ""

    def __init__(self, track: AudioTrack):
        self.format = track.format
        self._samples = track.samples
        self.position = 0

    @property
    def ended(self) -> bool:
        return self.position >= len(self._samples)

    def read(self, n: int) -> np.ndarray:
        out = self._samples[self.position:self.position + max(int(n), 0)]
        self.position += len(out)
        return out


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the module is there, the PortAudio library is not
        raise PuppetError(
            "no microphone can be used (the PortAudio sound library was not found)",
            "install PortAudio to record sound (Debian/Ubuntu: sudo apt install libportaudio2)"
        ) from exc
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise not_installed(exc, "no microphone can be used (sounddevice is not installed)",
                            "install Puppet again: pip install .") from exc
    return sounddevice


class Microphone:
    """A sound input device, read through sounddevice (PortAudio)."""

    def __init__(self, device: int | str | None = None, fmt: AudioFormat = AudioFormat(),
                 clock: Callable[[], float] = CLOCK):
        sd = _sounddevice()
        self._sd = sd
        self._clock = clock
        try:
            info = sd.query_devices(device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            raise PuppetError("no microphone was found",
                              "connect one, or check the system's sound settings") from exc
        channels = max(1, min(fmt.channels, int(info.get("max_input_channels", 1) or 1)))
        rate = fmt.samplerate
        try:
            sd.check_input_settings(device=device, channels=channels, samplerate=rate,
                                    dtype="float32")
        except (ValueError, sd.PortAudioError):
            rate = int(info.get("default_samplerate") or 48000)
        self.device = device
        self.format = AudioFormat(rate, channels)
        self.description = str(info.get("name", "microphone"))
        self._stream = None

    def start(self, callback: AudioCallback) -> None:
        sd, clock, rate = self._sd, self._clock, self.format.samplerate

        def on_block(indata, frames, time_info, status) -> None:  # PortAudio's thread
            now = clock()
            try:
                latency = float(time_info.currentTime - time_info.inputBufferAdcTime)
            except (AttributeError, TypeError):
                latency = -1.0
            if not 0.0 <= latency < 1.0 or not time_info.inputBufferAdcTime:
                latency = frames / rate  # the block has just been filled
            callback(indata.copy(), now - latency)

        try:
            self._stream = sd.InputStream(device=self.device, channels=self.format.channels,
                                          samplerate=rate, dtype="float32", callback=on_block)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise PuppetError(f"the microphone {self.description} cannot be opened ({exc})",
                              "close other programs that use it, or choose another one") from exc

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a device that vanished: nothing left to stop
                pass


def open_microphone(device: int | str | None = None, fmt: AudioFormat = AudioFormat(),
                    clock: Callable[[], float] = CLOCK) -> Microphone:
    """The microphone, or a :class:`PuppetError` that says why there is none."""
    return Microphone(device, fmt, clock)


Signal = Callable[[np.ndarray], np.ndarray]  # capture times (seconds) -> samples


class GeneratedAudio:
    """Sound made by a function of time, delivered in real time like a microphone.

    ``signal`` receives the capture times (on ``clock``) of a block's samples and
    returns the samples, shaped (n,) or (n, channels).  Blocks are delivered as
    each one has "been recorded", ``block`` seconds apart.  ``on_stop`` is called when
    it stops (to close what the signal reads from).
    """

    def __init__(self, signal: Signal, fmt: AudioFormat = AudioFormat(), block: float = 0.02,
                 clock: Callable[[], float] = CLOCK, description: str = "generated sound",
                 on_stop: Callable[[], None] | None = None):
        self.signal = signal
        self._on_stop = on_stop
        self.format = fmt
        self.description = description
        self._block = max(1, int(round(block * fmt.samplerate)))
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, callback: AudioCallback) -> None:
        self._stop.clear()
        start = self._clock()
        rate, n = self.format.samplerate, self._block

        def run() -> None:
            done = 0
            while not self._stop.is_set():
                first = start + done / rate
                ready = first + n / rate
                wait = ready - self._clock()
                if wait > 0 and self._stop.wait(wait):
                    return
                times = first + np.arange(n) / rate
                callback(np.asarray(self.signal(times), np.float32), first)
                done += n

        self._thread = threading.Thread(target=run, name="puppet-generated-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            join(self._thread, 2)
            self._thread = None
        if self._on_stop is not None:
            self._on_stop()


class Resampler:
    """Decoded PyAV audio frames as float32 samples (frames, channels) in ``fmt``
    (resampled and mixed as needed); ``frame=None`` flushes.  ``first_time``: the
    time (seconds) of the first sample of the last call's output, where PyAV says."""

    def __init__(self, fmt: AudioFormat):
        import av

        self.format = fmt
        layout = "mono" if fmt.channels == 1 else "stereo"
        self._resampler = av.AudioResampler(format="flt", layout=layout, rate=fmt.samplerate)
        self.first_time: float | None = None

    def __call__(self, frame) -> list[np.ndarray]:
        outs = self._resampler.resample(frame)
        first = outs[0] if outs else None
        self.first_time = float(first.pts * first.time_base) \
            if first is not None and first.pts is not None and first.time_base else None
        return [out.to_ndarray().reshape(-1, self.format.channels) for out in outs]


def decode_samples(container, stream, fmt: AudioFormat) -> np.ndarray:
    """A PyAV container's audio ``stream`` decoded whole, as float32 samples
    (frames, channels) in ``fmt`` (resampled and mixed as needed).  PyAV's errors
    reach the caller."""
    resample = Resampler(fmt)
    blocks = []
    for frame in container.decode(stream):
        blocks.extend(resample(frame))
    blocks.extend(resample(None))
    return concat_samples(blocks, fmt.channels)


def tone(frequency: float = 440.0, level: float = 0.2) -> Signal:
    """A sine tone."""
    return lambda t: (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def clicks(times: list[float], length: float = 0.004, level: float = 0.8) -> Signal:
    """Silence with short clicks starting at the given capture times."""
    marks = np.asarray(times, np.float64)

    def signal(t: np.ndarray) -> np.ndarray:
        out = np.zeros(len(t), np.float32)
        for m in marks:
            out[(t >= m) & (t < m + length)] = level
        return out

    return signal
