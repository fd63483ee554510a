import json

import numpy as np
import trimesh
from click.testing import CliRunner

from cli.main import main
from scene_library import build_scene, generate_room, load_description


def test_sample_writes_mesh_and_description_that_reloads(tmp_path):
    out = tmp_path / "room.glb"
    result = CliRunner().invoke(main, ["scenes", "sample", "--room-type", "bedroom", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000 and "bedroom" in result.output
    description = load_description(tmp_path / "room.json")
    again = build_scene(description)
    same = generate_room(np.random.default_rng(3), "bedroom")
    assert [o.name for o in again.objects] == [o.name for o in same.objects]
    assert all(np.array_equal(a.mesh.vertices, b.mesh.vertices) for a, b in zip(again.objects, same.objects))
    loaded = trimesh.load(out, force="scene")
    assert len(loaded.geometry) >= len(same.objects) - 5  # a few identical parts may share geometry


def test_preview_and_stats(tmp_path):
    runner = CliRunner()
    runner.invoke(main, ["scenes", "sample", "--room-type", "kitchen", "--seed", "1", "--out", str(tmp_path / "k.glb")])
    result = runner.invoke(
        main, ["scenes", "preview", str(tmp_path / "k.json"), "--views", "2", "--out", str(tmp_path / "png")]
    )
    assert result.exit_code == 0, result.output
    (png,) = (tmp_path / "png").glob("*.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(
        main, ["scenes", "stats", "--per-type", "1", "--resolution", "64x48", "--json", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 0, result.output
    for fragment in (
        "total variation distance",
        "depth mean",
        "objects visible per frame",
        "rooms generated per second",
        "bathroom",
    ):
        assert fragment in result.output
    stats = json.loads((tmp_path / "s.json").read_text())
    assert abs(sum(stats["total"]["class13_share"].values()) - 1.0) < 1e-6
    assert 0.0 <= stats["total"]["total_variation"] <= 1.0


def write_model(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box((1.0, 0.5, 0.8)), node_name="table_top", geom_name="table_top")
    scene.add_geometry(
        trimesh.creation.box((0.4, 0.4, 0.9), transform=trimesh.transformations.translation_matrix((1.2, 0, 0))),
        node_name="mystery",
        geom_name="mystery",
    )
    path = tmp_path / "model.glb"
    scene.export(path)
    labels = tmp_path / "labels.yaml"
    labels.write_text('default: otherprop\nlabels:\n  "re:table_.*": table\n')
    return path, labels


def test_import_whole_scene_and_add_to_room(tmp_path):
    model, labels = write_model(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main, ["scenes", "import", str(model), "--labels", str(labels), "--out", str(tmp_path / "imp.glb")]
    )
    assert result.exit_code == 0, result.output
    assert "mystery" in result.output  # the unmatched name is reported
    scene = build_scene(load_description(tmp_path / "imp.json"))
    assert sorted(o.class40 for o in scene.objects) == [7, 40]
    assert min(o.mesh.bounds[0, 2] for o in scene.objects) == 0.0
    result = runner.invoke(
        main,
        [
            "scenes",
            "sample",
            "--room-type",
            "office",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "o.glb"),
            "--add",
            str(model),
            "--labels",
            str(labels),
        ],
    )
    assert result.exit_code == 0, result.output
    room = build_scene(load_description(tmp_path / "o.json"))
    imported = [o for o in room.objects if o.name.startswith("imported")]
    assert {o.class40 for o in imported} == {7, 40}


def test_scene_bad_inputs(tmp_path, one_line_error):
    runner = CliRunner()
    one_line_error(
        runner.invoke(main, ["scenes", "sample", "--room-type", "garage", "--out", str(tmp_path / "a.glb")]),
        "unknown room type 'garage'",
        "bedroom",
        "--room-type",
    )
    one_line_error(
        runner.invoke(
            main, ["scenes", "sample", "--type", "office", "--room-type", "bedroom", "--out", str(tmp_path / "a.glb")]
        ),
        "--type office",
        "--room-type bedroom",
    )
    one_line_error(runner.invoke(main, ["scenes", "sample", "--out", str(tmp_path / "a.txt")]), "must end in .glb")
    model, _ = write_model(tmp_path)
    one_line_error(runner.invoke(main, ["scenes", "import", str(model), "--out", str(tmp_path / "b.glb")]), "--labels")
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"\x00garbage" * 10)
    labels = tmp_path / "l.json"
    labels.write_text('{"default": "otherprop", "labels": {}}')
    one_line_error(
        runner.invoke(
            main, ["scenes", "import", str(broken), "--labels", str(labels), "--out", str(tmp_path / "c.glb")]
        ),
        "broken.glb",
    )
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    one_line_error(runner.invoke(main, ["scenes", "preview", str(not_json), "--out", str(tmp_path)]), "not JSON")
    one_line_error(
        runner.invoke(
            main,
            [
                "generate",
                "--rooms",
                "1",
                "--frames-per-room",
                "1",
                "--out",
                str(tmp_path / "g"),
                "--scene",
                str(not_json),
            ],
        ),
        "not JSON",
    )
    one_line_error(
        runner.invoke(
            main,
            [
                "generate",
                "--rooms",
                "1",
                "--frames-per-room",
                "1",
                "--out",
                str(tmp_path / "g"),
                "--room-type",
                "bedroom",
                "--room-type",
                "garage",
            ],
        ),
        "unknown room type 'garage'",
    )


def test_malformed_descriptions_are_one_line_errors(tmp_path, one_line_error):
    runner = CliRunner()
    for i, text in enumerate(
        [
            '{"format": "synthcam-scene", "version": 1}',
            "[1, 2]",
            '{"format": "synthcam-scene", "version": 1, "room": {"type": "x", "polygon": [[0, 0]], '
            '"height": "tall"}, "objects": []}',
        ]
    ):
        path = tmp_path / f"bad{i}.json"
        path.write_text(text)
        one_line_error(
            runner.invoke(main, ["scenes", "preview", str(path), "--out", str(tmp_path / "o")]), "description"
        )
    one_line_error(
        runner.invoke(main, ["scenes", "stats", "--per-type", "1", "--json", str(tmp_path / "no" / "s.json")]),
        "does not exist",
    )


def test_stats_views_spread_over_a_whole_trajectory(monkeypatch):
    import synthcam.scene_stats as scene_stats
    import synthcam.trajectory as trajectory
    from synthcam_core.errors import SynthcamError

    trajectories, rendered = [], []
    real_sample = trajectory.sample_trajectory

    def sample(*args, **kwargs):
        trajectories.append(real_sample(*args, **kwargs))
        return trajectories[-1]

    class Recording(scene_stats.RaycastRenderer):
        def render(self, pose, normals=True):
            if self.intrinsics.width == 80:  # an output view, not the 64 x 48 judging probe
                rendered.append(pose)
            return super().render(pose, normals=normals)

    monkeypatch.setattr(trajectory, "sample_trajectory", sample)
    monkeypatch.setattr(scene_stats, "RaycastRenderer", Recording)
    stats = scene_stats.scene_statistics(
        3, seed=2, resolution=(80, 60), views_per_room=3, room_types=("office",), trajectory_frames=12
    )
    assert stats["per_type"]["office"]["views"] == 3 and stats["trajectory_frames"] == 12
    (traj,) = trajectories
    assert len(traj) == 12
    assert np.array_equal(np.stack(rendered), traj.poses[[0, 6, 11]])  # first, middle and last frame
    try:
        scene_stats.scene_statistics(1, views_per_room=5, trajectory_frames=4)
    except SynthcamError as error:
        assert "trajectory_frames" in str(error)
    else:
        raise AssertionError("views_per_room > trajectory_frames was accepted")
