"""``puppet demo``: the built-in portrait, driven by the built-in performance."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from puppet.artwork import BUILTIN, builtin_path
from puppet.engine import DriverFrame, ProgressFn, RenderReport, render_performance
from puppet.generators import base as generators
from puppet.generators.runtime import ProviderInfo
from puppet.motion.retarget import RetargetSettings
from puppet.portrait import DEFAULT_SIZE, Portrait, portrait_from_image, read_image
from puppet.sources.procedural import performance

DEMO_PORTRAIT = "grace-oil"
DEMO_FPS = 25.0


def builtin_portrait(name: str = DEMO_PORTRAIT, size: int = DEFAULT_SIZE,
                     framing: str = "whole") -> Portrait:
    image = read_image(builtin_path(name), "built-in portrait")
    return portrait_from_image(image, BUILTIN[name][1], f"built-in:{name}", size,
                               framing=framing)


def render_demo(output: str | Path = "demo.mp4", seconds: float = 10.0, size: int = DEFAULT_SIZE,
                device: str = "auto", settings: RetargetSettings | None = None,
                progress: ProgressFn | None = None,
                on_provider: Callable[[ProviderInfo], None] | None = None) -> RenderReport:
    from puppet.errors import PuppetError
    from puppet.outputs.video_writer import VideoWriter, check_output_path

    if not 0.5 <= seconds <= 600:
        raise PuppetError(f"--seconds {seconds:g} is out of range", "use 0.5 to 600 seconds")
    out = check_output_path(output)
    portrait = builtin_portrait(size=size)
    generator = generators.create("warp", device)
    if on_provider is not None:
        on_provider(generator.info)
    faces = performance(portrait.face, seconds, DEMO_FPS)
    driver = ((DriverFrame(i, t, face), 0.0) for i, (t, face) in enumerate(faces))
    w, h = portrait.size
    writer = VideoWriter(out, w, h, DEMO_FPS)
    try:
        report = render_performance(portrait, driver, writer, generator, settings,
                                    total=int(round(seconds * DEMO_FPS)), progress=progress)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    report.video_fps = DEMO_FPS
    return report
