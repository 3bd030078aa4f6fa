"""``puppet bench`` end to end on built-in material, and its choice of providers."""
from __future__ import annotations

import json

import pytest
from test_render_cli import run_puppet

from puppet.engine import STAGES
from puppet.errors import PuppetError
from puppet.generators import runtime


def test_bench_measures_every_stage_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    r = run_puppet("bench", "--frames", "16", "--size", "320", "--device", "cpu",
                   "--live-seconds", "1.5", "--repeat", "2", "--json", out, timeout=600)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["inputs"]["driving"]["width"] > 0 and data["machine"]["cpu_count"] >= 1
    (run,) = data["runs"]
    assert run["device"] == "cpu" and run["runner"] == "io-binding"
    assert run["drawing"] == "OpenCV"  # on the CPU the field graph runs, OpenCV draws
    stages = run["render"]["stages"]  # both renders' frames
    for stage in STAGES:
        s = stages[stage]
        assert s["frames"] == 2 * 16 and 0 < s["median_ms"] <= s["p95_ms"], stage
    # the share of the renders' time each of the render's threads was busy
    busy = run["render"]["threads_busy"]
    assert set(busy) == {"source", "track", "retarget", "generate", "compose", "encode"}
    assert all(0.0 < share <= 1.05 for share in busy.values()), busy
    assert run["render"]["frames"] == 16 and run["render"]["fps"] > 0
    assert run["render"]["steady_fps"] > 0 and run["render"]["first_frame_seconds"] > 0
    assert run["track_only"]["frames"] == 16 and run["track_only"]["fps"] > 0
    # each render has a run of decode + track alone beside it; the ratio is of medians
    alone, renders = run["track_only"]["fps_runs"], run["render"]["fps_runs"]
    assert len(alone) == len(renders) == 2
    assert run["track_only"]["fps"] == pytest.approx(sum(alone) / 2)
    assert run["render"]["ratio_to_track_only"] == pytest.approx(
        run["render"]["fps"] / run["track_only"]["fps"])
    assert run["generator"]["frames"] >= 200 and run["generator"]["median_ms"] > 0
    # its two halves: the eyes, mouth (and on the CPU the field), then the drawing
    g = run["generator"]
    assert 0 < g["begin_median_ms"] < g["median_ms"] and 0 < g["draw_median_ms"] < g["median_ms"]
    assert run["peak_rss_mb"] > 50
    live = run["live"]
    assert live["frames_shown"] > 0 and live["latency"]["median_ms"] > 0
    assert live["peak_rss_mb"] > 50
    # tracking and drawing 30 frames a second take some CPU, and no more than every core
    assert 1.0 < live["cpu_percent"] <= 100.0 * live["cpu_count"] + 10.0
    # the table says the same
    assert "render:" in r.stdout and "decode + track alone:" in r.stdout
    assert "% of one core" in r.stdout and "threads busy: source" in r.stdout
    assert "drawn with OpenCV" in r.stdout
    for stage in STAGES:
        assert f"  {stage} " in r.stdout


def test_all_means_the_providers_that_work_here(monkeypatch):
    from puppet import bench

    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    devices, skipped = bench.devices_to_run("all")
    assert devices == ["cpu"] and "no NVIDIA GPU driver" in skipped["CUDA"]
    assert bench.devices_to_run("auto")[0] == ["cpu"]
    with pytest.raises(PuppetError) as err:
        bench.devices_to_run("cuda")
    assert "puppet doctor" in err.value.message


def test_bench_checks_its_arguments_before_working(tmp_path):
    r = run_puppet("bench", "--json", tmp_path / "missing" / "b.json")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run_puppet("bench", "--driving", tmp_path / "nope.mp4")
    assert r.returncode == 2 and "not found" in r.stderr
    # a folder, or a file that cannot be written, is said before the whole run, not after
    r = run_puppet("bench", "--json", tmp_path)
    assert r.returncode == 2 and "is a folder" in r.stderr and "bench.json" in r.stderr
    assert "Generator" not in r.stderr and "decode" not in r.stdout
