"""``synthcam bench fusion`` end to end on a tiny setting: train, fuse, re-project, score in 3D."""

from __future__ import annotations

import json

from cli.fusion_bench import BenchSettings, format_report, run_fusion_bench

TINY = BenchSettings(
    test_rooms=1,
    test_frames=4,
    resolution=(96, 72),
    train_rooms=2,
    train_frames=6,
    train_resolution=(64, 48),
    epochs=1,
    voxel_size=0.04,
    trunc=0.16,
    seed=3,
)


def test_the_benchmark_reports_every_row(tmp_path):
    report = run_fusion_bench(tmp_path / "work", TINY, quiet=True, log=lambda _: None)
    assert report["frames"] == 4 and len(report["rooms"]) == 1
    for key in ("network", "fused", "network_same_pixels", "fused_same_pixels", "truth_clean", "truth_noisy"):
        assert 0.0 <= report[key]["global_acc"] <= 1.0 and 0.0 < report[key]["coverage"] <= 1.0
    assert report["truth_clean"]["global_acc"] > 0.9  # ground truth survives fusion even at 4 cm voxels
    assert (
        0.0 <= report["3d_acc"] <= 1.0
        and 0.0 <= report["3d_acc_truth_noisy"] <= 1.0
        and report["integrate_fps"] > 0
        and report["memory_mib"] > 0
    )
    text = format_report(report)
    assert "fused and re-projected" in text and "3D:" in text
    json.dumps(report)  # JSON-ready
    again = run_fusion_bench(tmp_path / "work", TINY, quiet=True, log=lambda _: None)  # reuses data and run
    assert again["network"] == report["network"]


def test_bench_fusion_bad_voxel_size_is_one_line(cli, one_line_error):
    one_line_error(cli("bench", "fusion", "--voxel-size", "0"), "--voxel-size")
