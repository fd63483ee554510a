"""Hostile and careless input to the real-sensor commands (``realism``, ``noise fit``, ``generate
--noise-file``, ``evaluate --dataset real``): damaged PNGs, files that are not files, strange camera and
gravity files, noise files with absurd numbers, frame lists and output paths that cannot work. Each is
one ``error:`` line and exit status 2, never a traceback, a hang or a console message from a decoder."""

from __future__ import annotations

import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from synthcam_core.errors import SynthcamError

W, H = 64, 48


def _depth_png() -> bytes:
    depth = np.full((H, W), 2000, np.uint16)
    depth[:, :5] = 0
    ok, buf = cv2.imencode(".png", depth)
    assert ok
    return buf.tobytes()


def _corrupt(png: bytes) -> bytes:
    """The PNG with bytes inside its compressed data flipped: the header stays valid."""
    data = bytearray(png)
    start = png.index(b"IDAT") + 4
    for k in range(start, start + 24):
        data[k] ^= 0x55
    return bytes(data)


def _header_only(width: int, height: int) -> bytes:
    """A PNG whose valid header claims ``width`` x ``height`` 16-bit pixels but holds almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _folder(path, files: dict[str, bytes] | None = None, yaml: str | None = None):
    """A real folder holding one good raw frame ``f0`` plus ``files`` (name -> bytes)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "f0_raw.png").write_bytes(_depth_png())
    for name, data in (files or {}).items():
        (path / name).write_bytes(data)
    if yaml is not None:
        (path / "intrinsics.yaml").write_text(yaml)
    return path


def _realism(cli, tmp_path, folder, *extra):
    """``synthcam realism`` of a missing generated path: the real folder is checked first."""
    return cli("realism", tmp_path / "no_shards", "--real", folder, *extra)


def terminal_lines(output: str) -> list[str]:
    """The non-empty lines a terminal shows: each line as its last carriage return leaves it (a progress
    bar cleared with ``\\r`` leaves nothing)."""
    shown = [line.split("\r")[-1] for line in output.split("\n")]
    return [line for line in shown if line.strip()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from click.testing import CliRunner

    from cli.main import main

    out = tmp_path_factory.mktemp("hostile_realism") / "gen"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--rooms",
            "1",
            "--frames-per-room",
            "2",
            "--resolution",
            f"{W}x{H}",
            "--renderer",
            "raycast",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


# --- PNG files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "header_only"])
def test_damaged_png_data_is_an_error_without_decoder_messages(tmp_path, capfd, damage):
    """A PNG whose header is valid but whose data is cut, scrambled or missing raises SynthcamError, and
    nothing is printed on the console by the decoder (libpng wrote 'libpng error: ...' to stderr)."""
    from synthcam_core.real_frames import read_png

    data = {"truncated": _depth_png()[:60], "corrupt": _corrupt(_depth_png()), "header_only": _header_only(W, H)}[
        damage
    ]
    path = tmp_path / "a_raw.png"
    path.write_bytes(data)
    capfd.readouterr()
    with pytest.raises(SynthcamError, match="the file is damaged"):
        read_png(path, (H, W), "depth")
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_a_damaged_frame_found_while_measuring_leaves_one_line(tmp_path, cli, one_line_error, generated):
    folder = _folder(tmp_path / "real", {"f1_raw.png": _corrupt(_depth_png())})
    result = cli("realism", generated, "--real", folder, "--intrinsics", "nyuv2")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = terminal_lines(result.output)  # the progress bar is cleared: the error line stands alone
    assert len(lines) == 1 and lines[0].startswith("error: ") and "f1_raw.png" in lines[0], result.output


@pytest.mark.parametrize("name", ["f1_raw.png", "f0_depth.png", "f0_label13.png"])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory", "broken_link"])
def test_a_png_name_that_is_not_a_regular_file_is_refused(tmp_path, cli, one_line_error, name, kind):
    """Never opened (a pipe would block, /dev/zero never ends), never silently skipped."""
    folder = _folder(tmp_path / "real")
    target = folder / name
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev_zero":
        target.symlink_to("/dev/zero")
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "gone.png")
    one_line_error(_realism(cli, tmp_path, folder, "--intrinsics", "nyuv2"), name, "not a regular file")


def test_an_upper_case_png_suffix_is_named(tmp_path, cli, one_line_error):
    folder = _folder(tmp_path / "real", {"f1_raw.PNG": _depth_png()})
    one_line_error(_realism(cli, tmp_path, folder, "--intrinsics", "nyuv2"), "f1_raw.PNG", "lower-case .png")


# --- intrinsics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,fragments",
    [
        ("fx: " + "9" * 400 + "\nfy: 50\ncx: 32\ncy: 24\n", ("fx=inf", "focal lengths")),
        ("[" * 3000, ("too deeply",)),
        ("fx: " + "[" * 1000 + "]" * 1000 + "\n", ("too deeply",)),
        ("a: &f 50\nfx: *f\nfy: 50\ncx: 32\ncy: 24\n", ("alias",)),
        ("fx: 50\nfx: 60\nfy: 50\ncx: 32\ncy: 24\n", ("'fx' twice",)),
        ("fx: 50\nfy: 50\ncx: 32\ncy: 24\nk1: 0.1\n", ("unknown key", "k1")),
        ("fx: 5e1\nfy: 50\ncx: 32\ncy: 24\n", ("fx must be a number", "reads it as text")),
        ("fx: 1.0e-300\nfy: 1.0e-300\ncx: 32\ncy: 24\n", ("focal lengths must lie in",)),
    ],
)
def test_a_strange_intrinsics_file_is_one_line(tmp_path, cli, one_line_error, text, fragments):
    folder = _folder(tmp_path / "real", yaml=text)
    one_line_error(_realism(cli, tmp_path, folder), "intrinsics", *fragments)


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_an_intrinsics_file_that_is_not_a_regular_file_is_named(tmp_path, cli, one_line_error, kind):
    folder = _folder(tmp_path / "real")
    target = folder / "intrinsics.yaml"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    one_line_error(_realism(cli, tmp_path, folder), "intrinsics.yaml", "not a regular file")


@pytest.mark.parametrize("spec", ["1e-300,1e-300,32,24", "1e300,1e300,32,24", "0.5,50,32,24"])
def test_absurd_focal_lengths_are_refused(tmp_path, cli, one_line_error, spec):
    folder = _folder(tmp_path / "real")
    one_line_error(_realism(cli, tmp_path, folder, "--intrinsics", spec), "focal lengths must lie in 3.2..3200")


# --- evaluate --dataset real: gravity, frame lists, outputs, workers ---------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny 13-class run trained for one epoch on two analytic frames."""
    import torch

    from segnet.config import TrainConfig
    from segnet.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("hostile_realism_run")
    config = TrainConfig(
        dataset="synthetic",
        synthetic_frames=2,
        model="segnet-basic",
        model_width=0.25,
        height=16,
        width=16,
        batch_size=2,
        encoding="DHA",
        classes=13,
        epochs=1,
        val_fraction=0.0,
        balance=False,
    )
    try:
        train(config, out, progress=False, log=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    return out / "last.pt"


def _labelled(path, gravity: str | None = None, labels: np.ndarray | None = None):
    """A real folder of one filled frame ``0004`` with 13-class labels and intrinsics.yaml."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "0004_depth.png").write_bytes(_depth_png())
    ids = (
        labels
        if labels is not None
        else np.tile(np.arange(1, 14, dtype=np.uint8), W * H // 13 + 1)[: W * H].reshape(H, W)
    )
    assert cv2.imwrite(str(path / "0004_label13.png"), ids)
    (path / "intrinsics.yaml").write_text("fx: 50.0\nfy: 50.0\ncx: 32.0\ncy: 24.0\n")
    if gravity is not None:
        (path / "gravity.yaml").write_text(gravity)
    return path


def _evaluate(cli, checkpoint, folder, *extra):
    return cli("evaluate", "--checkpoint", checkpoint, "--dataset", "real", "--path", folder, "--classes", 13, *extra)


class _Deadline:
    """Fail (rather than hang the test run) when the body takes longer than ``seconds``."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        import signal

        def expired(signum, frame):
            raise TimeoutError(f"still blocked after {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        return False


def test_gravity_with_huge_components_is_normalised(tmp_path, cli, checkpoint):
    folder = _labelled(tmp_path / "real", gravity="0004: [1.7e+308, 1.7e+308, 0]\n")
    result = _evaluate(cli, checkpoint, folder)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize(
    "gravity,fragments",
    [
        ("0004: [0, 1, 0]\n0004: [1, 0, 0]\n", ("'0004' twice",)),
        ("0004: [.nan, 1, 0]\n", ("three finite numbers",)),
        ("0004: [0, 0, 0]\n", ("not all zero",)),
    ],
)
def test_a_strange_gravity_file_is_one_line(tmp_path, cli, one_line_error, checkpoint, gravity, fragments):
    folder = _labelled(tmp_path / "real", gravity=gravity)
    one_line_error(_evaluate(cli, checkpoint, folder), "gravity.yaml", *fragments)


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev_zero"])
def test_a_gravity_file_that_is_not_a_regular_file_is_named(tmp_path, cli, one_line_error, checkpoint, kind):
    folder = _labelled(tmp_path / "real")
    target = folder / "gravity.yaml"
    {"fifo": os.mkfifo, "directory": os.mkdir, "dev_zero": lambda p: os.symlink("/dev/zero", p)}[kind](target)
    one_line_error(_evaluate(cli, checkpoint, folder), "gravity.yaml", "not a regular file")


def test_frames_from_a_pipe_are_refused_without_blocking(tmp_path, cli, one_line_error, checkpoint):
    pipe = tmp_path / "frames.txt"
    os.mkfifo(pipe)
    with _Deadline(20):
        result = _evaluate(cli, checkpoint, _labelled(tmp_path / "real"), "--frames", f"@{pipe}")
    one_line_error(result, "frames.txt", "not a regular file")


@pytest.mark.parametrize("command", ["evaluate", "realism"])
def test_json_into_a_pipe_is_refused_before_any_work(tmp_path, cli, one_line_error, checkpoint, generated, command):
    pipe = tmp_path / "out.json"
    os.mkfifo(pipe)
    with _Deadline(20):
        if command == "evaluate":
            result = _evaluate(cli, checkpoint, _labelled(tmp_path / "real"), "--json", pipe)
        else:
            result = cli(
                "realism", generated, "--real", _folder(tmp_path / "raw"), "--intrinsics", "nyuv2", "--json", pipe
            )
    one_line_error(result, "--json", "not a regular file")


def test_a_bad_frame_read_by_a_worker_process_is_one_line(tmp_path, cli, one_line_error, checkpoint):
    labels = np.zeros((H, W), np.uint8)
    labels[0, 0] = 200
    folder = _labelled(tmp_path / "real", labels=labels)
    result = _evaluate(cli, checkpoint, folder, "--num-workers", 1)
    one_line_error(result, "0004_label13.png", "class id 200")
    assert "DataLoader worker" not in result.output


# --- noise files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,text,fragments",
    [
        ("huge_int.yaml", "preset: kinect_v1\nparams:\n  range.z_max: " + "9" * 400 + "\n", ("finite number",)),
        ("huge_int.json", '{"preset": "kinect_v1", "params": {"range.z_max": ' + "9" * 400 + "}}", ("finite number",)),
        ("exponent.yaml", "preset: kinect_v1\nparams:\n  range.z_max: 1e1\n", ("needs a number", "reads it as text")),
    ],
)
def test_a_strange_noise_file_is_one_line(tmp_path, cli, one_line_error, name, text, fragments):
    path = tmp_path / name
    path.write_text(text)
    result = cli(
        "generate",
        "--rooms",
        1,
        "--frames-per-room",
        1,
        "--resolution",
        f"{W}x{H}",
        "--renderer",
        "raycast",
        "--noise-file",
        path,
        "--out",
        tmp_path / "out",
    )
    line = one_line_error(result, name, "range.z_max", *fragments)
    assert len(line) < 300
    assert not (tmp_path / "out").exists()


# --- noise fit ------------------------------------------------------------------------------------------


def _fit(cli, folder, out, *extra):
    return cli(
        "noise",
        "fit",
        "--real",
        folder,
        "--intrinsics",
        "50,50,32,24",
        "--preset",
        "kinect_v1",
        "--rooms",
        1,
        "--frames-per-room",
        1,
        "--max-evals",
        2,
        "--out",
        out,
        *extra,
    )


def test_a_damaged_real_frame_stops_a_fit_with_one_line(tmp_path, cli, one_line_error):
    folder = _folder(tmp_path / "real", {"f1_raw.png": _corrupt(_depth_png())})
    one_line_error(_fit(cli, folder, tmp_path / "fit.yaml"), "f1_raw.png", "damaged")
    assert not (tmp_path / "fit.yaml").exists()


def test_bounds_the_stage_refuses_everywhere_are_one_line(tmp_path, cli, one_line_error):
    result = _fit(cli, _folder(tmp_path / "real"), tmp_path / "fit.yaml", "--param", "range.z_max=2000:3000")
    one_line_error(result, "range.z_max=2000:3000", "accepts no value")
    assert not (tmp_path / "fit.yaml").exists()


def test_a_fit_too_large_for_memory_is_refused_before_rendering(tmp_path, cli, one_line_error):
    folder = tmp_path / "real"
    folder.mkdir()
    (folder / "f0_raw.png").write_bytes(_header_only(4096, 4096))  # the header is all that is read
    result = cli(
        "noise",
        "fit",
        "--real",
        folder,
        "--intrinsics",
        "nyuv2",
        "--preset",
        "kinect_v1",
        "--out",
        tmp_path / "fit.yaml",
    )
    one_line_error(result, "4096x4096", "GiB", "--rooms")


def test_a_fit_whose_distance_cannot_be_computed_writes_no_file(tmp_path, cli):
    """Real frames of pure noise have no smooth surface, so no normal angle to compare: every trial would
    score the same penalty and the 'fitted' file would only repeat the defaults."""
    folder = tmp_path / "real"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(1000, 4000, (H, W)).astype(np.uint16)
    assert cv2.imwrite(str(folder / "f0_raw.png"), noise)
    result = _fit(cli, folder, tmp_path / "fit.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    last = terminal_lines(result.output)[-1]
    assert last.startswith("error: ") and "normal_angle" in last and "cannot be computed" in last, result.output
    assert not (tmp_path / "fit.yaml").exists()


@pytest.mark.parametrize(
    "dataset,option",
    [
        ("real", ("--split", "train")),
        ("real", ("--depth", "clean")),
        ("shards", ("--real-depth", "raw")),
        ("synthetic", ("--real-depth", "raw")),
    ],
)
def test_an_option_the_dataset_ignores_is_refused(
    tmp_path, cli, one_line_error, checkpoint, generated, dataset, option
):
    path = {"real": _labelled(tmp_path / "real"), "shards": generated, "synthetic": None}[dataset]
    where = ("--path", path) if path is not None else ()
    extra = ("--intrinsics", "50,50,32,24") if dataset == "real" else ()
    result = cli("evaluate", "--checkpoint", checkpoint, "--dataset", dataset, *where, *extra, *option)
    one_line_error(result, option[0], f"leave it out for --dataset {dataset}")


# --- outputs that name an input -------------------------------------------------------------------------


def test_json_never_replaces_a_checkpoint(tmp_path, cli, one_line_error, checkpoint):
    import shutil

    copy = tmp_path / "best.pt"
    shutil.copy(checkpoint, copy)
    before = copy.read_bytes()
    result = _evaluate(cli, copy, _labelled(tmp_path / "real"), "--json", copy)
    one_line_error(result, "best.pt", "not a JSON file")
    assert copy.read_bytes() == before


def test_json_never_replaces_a_shard_or_a_png(tmp_path, cli, one_line_error, generated):
    folder = _folder(tmp_path / "real")
    shard = sorted(generated.glob("*.h5"))[0]
    before = shard.read_bytes()
    one_line_error(
        cli("realism", generated, "--real", folder, "--intrinsics", "nyuv2", "--json", shard), "not a JSON file"
    )
    assert shard.read_bytes() == before
    one_line_error(
        cli("realism", generated, "--real", folder, "--intrinsics", "nyuv2", "--json", folder / "f0_raw.png"),
        "not a JSON file",
    )
    assert (folder / "f0_raw.png").read_bytes() == _depth_png()


def test_fit_json_is_not_the_noise_file(tmp_path, cli, one_line_error):
    out = tmp_path / "fit.json"
    one_line_error(_fit(cli, _folder(tmp_path / "real"), out, "--json", out), "--json", "is the --out noise file")
    assert not out.exists()


def test_pictures_never_go_into_the_real_folder(tmp_path, cli, one_line_error, checkpoint, generated):
    """Plots or prediction PNGs there would be read as raw frames (NAME.png) by the next command."""
    folder = _folder(tmp_path / "raw")
    result = cli("realism", generated, "--real", folder, "--intrinsics", "nyuv2", "--plots", folder)
    one_line_error(result, "--plots", "is the real folder")
    labelled = _labelled(tmp_path / "real")
    one_line_error(
        _evaluate(cli, checkpoint, labelled, "--predictions", labelled), "--predictions", "is the real folder"
    )
    assert sorted(p.name for p in labelled.glob("*.png")) == ["0004_depth.png", "0004_label13.png"]


@pytest.mark.parametrize(
    "text", ["preset: " + "x" * 60000 + "\n", "preset: kinect_v1\n" + "".join(f"key{i}: 1\n" for i in range(3000))]
)
def test_a_noise_file_of_long_junk_gives_a_short_line(tmp_path, cli, one_line_error, text):
    path = tmp_path / "junk.yaml"
    path.write_text(text)
    result = cli(
        "generate",
        "--rooms",
        1,
        "--frames-per-room",
        1,
        "--resolution",
        f"{W}x{H}",
        "--noise-file",
        path,
        "--out",
        tmp_path / "out",
    )
    assert len(one_line_error(result, "junk.yaml")) < 400


@pytest.mark.parametrize(
    "option",
    [
        ("--intrinsics", "x" * 5000),
        ("--measures", "x" * 5000),
        ("--preset", "x" * 5000),
        ("--param", "x" * 5000),
        ("--param", "range.z_max=1:" + "9" * 5000),
    ],
)
def test_a_long_junk_option_gives_a_short_line(tmp_path, cli, one_line_error, option):
    args = {"--intrinsics": "nyuv2", "--preset": "kinect_v1", **dict([option])}
    extra = [option[0], option[1]] if option[0] in ("--measures", "--param") else []
    result = cli(
        "noise",
        "fit",
        "--real",
        _folder(tmp_path / "real"),
        "--intrinsics",
        args["--intrinsics"],
        "--preset",
        args["--preset"],
        "--out",
        tmp_path / "fit.yaml",
        *extra,
    )
    assert len(one_line_error(result)) < 400


def test_a_json_report_that_fails_to_write_leaves_no_file(monkeypatch, tmp_path):
    """--json goes through a temporary file and a rename: a write that fails (here the disk fills at the
    flush) leaves neither a half-written report nor a temporary file, and says so in one line."""
    import errno
    import os

    from synthcam_core.atomic_file import write_json
    from synthcam_core.errors import SynthcamError

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "report.json"
    with pytest.raises(SynthcamError, match="--json") as info:
        write_json(target, {"rows": list(range(1000))})
    assert "\n" not in str(info.value) and "No space left" in str(info.value)
    assert list(tmp_path.iterdir()) == []
