"""IoU / uncertainty PNG writers and the ``tomokit segment`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tomokit import InvalidInputError
from tomokit_seg.maps import IOU_COLOURS, iou_map, write_iou_map, write_uncertainty_map


def _cli(*args: str) -> int:
    from tomokit.cli import main

    return main(list(args))


def test_iou_map_codes():
    truth = np.array([[1, 1, 0, 0]])
    pred = np.array([[1, 0, 1, 0]])
    assert iou_map(pred, truth).tolist() == [[1, 3, 2, 0]]
    assert iou_map(pred, truth, label=0).tolist() == [[0, 2, 3, 1]]
    with pytest.raises(InvalidInputError, match="shape"):
        iou_map(pred, truth[:, :3])
    with pytest.raises(InvalidInputError, match="integer"):
        iou_map(pred + 0.5, truth)


def test_writers_make_pngs_with_the_colours(tmp_path: Path):
    import imageio.v3 as iio

    truth = np.zeros((40, 40), np.uint8)
    truth[:, 20:] = 1
    pred = np.roll(truth, 3, axis=1)
    path = write_iou_map(tmp_path / "iou.png", pred, truth)
    img = iio.imread(path)[..., :3].reshape(-1, 3)
    colours = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in IOU_COLOURS}
    present = {tuple(int(v) for v in px) for px in np.unique(img, axis=0)}
    assert colours <= present  # all four classes occur and the legend shows them
    u = np.linspace(0, 1, 1600, dtype=np.float32).reshape(40, 40)
    upath = write_uncertainty_map(tmp_path / "u.png", u)
    assert iio.imread(upath).shape[0] > 100
    with pytest.raises(InvalidInputError, match="2-D"):
        write_uncertainty_map(tmp_path / "v.png", u[None])
    with pytest.raises(InvalidInputError, match="does not exist"):
        write_uncertainty_map(tmp_path / "no" / "v.png", u)


@pytest.fixture()
def files(tmp_path: Path, three_phase):
    image, labels = three_phase
    np.save(tmp_path / "img.npy", image)
    np.save(tmp_path / "lab.npy", labels)
    return tmp_path


def test_segment_command_with_truth(files: Path, capsys):
    import h5py

    out = files / "seg.h5"
    rc = _cli("segment", str(files / "img.npy"), "--segmenter", "multi_otsu", "--classes", "3",
              "--truth", str(files / "lab.npy"), "-o", str(out), "--png", str(files / "png"))
    assert rc == 0
    with h5py.File(out) as f:
        assert f["labels"].shape == (128, 128)
        assert f["probabilities"].shape == (128, 128, 3)
        assert f["uncertainty"].dtype == np.float32
        assert f["scores"].attrs["mean_f1"] > 0.9
        assert f["scores/confusion"].shape == (3, 3)
        assert f["scores/f1"].shape == (3,)
        assert "alignment" in f["scores"].attrs
    assert "mean F1" in capsys.readouterr().out
    assert {p.name for p in (files / "png").iterdir()} == {
        "uncertainty.png", "iou_class1.png", "iou_class2.png"}
    assert _cli("segment", str(files / "img.npy"), "--segmenter", "otsu", "-o", str(out)) == 2


def test_segment_command_volume_from_hdf5(tmp_path: Path, two_phase):
    import h5py

    image, labels = two_phase
    with h5py.File(tmp_path / "ph.h5", "w") as f:
        f["images"] = np.stack([image, image])
        f["labels"] = np.stack([labels, labels])
    out = tmp_path / "o.h5"
    rc = _cli("segment", str(tmp_path / "ph.h5"), "--dataset", "images", "--segmenter", "kmeans",
              "--param", "classes=2", "--truth", str(tmp_path / "ph.h5"), "--truth-dataset",
              "labels", "-o", str(out), "--png", str(tmp_path / "png"))
    assert rc == 0
    with h5py.File(out) as f:
        assert f["labels"].shape == (2, 128, 128)
        assert f["scores"].attrs["mean_f1"] > 0.9


def test_segment_command_bad_input(files: Path, capsys):
    out = str(files / "o.h5")
    img = str(files / "img.npy")
    np.save(files / "small.npy", np.zeros((64, 64), np.uint8))
    np.save(files / "frac.npy", np.full((128, 128), 0.5))
    cases = {
        "differs from the image shape": ("--truth", str(files / "small.npy")),
        "non-integer": ("--truth", str(files / "frac.npy")),
        "has class 2": ("--truth", str(files / "lab.npy"), "--classes", "2"),
    }
    for message, extra in cases.items():
        capsys.readouterr()
        assert _cli("segment", img, "--segmenter", "multi_otsu", "-o", out, *extra) == 2
        assert message in capsys.readouterr().err
    assert _cli("segment", img, "--segmenter", "otsu", "--classes", "3", "-o", out) == 2
    assert "gives 2 classes" in capsys.readouterr().err
    assert _cli("segment", img, "--segmenter", "otsu", "--param", "nope", "-o", out) == 2
    assert not (files / "o.h5").exists()


def test_segmenters_run_in_a_pipeline(tmp_path: Path):
    import h5py

    from tomokit.cli import main

    (tmp_path / "seg.yaml").write_text(
        "name: seg\nversion: 1\nseed: 0\nsteps:\n"
        "  - id: phantom\n    phantom: electrode\n    params: {size: 64, cbd_fraction: 0.0, count: 2}\n"
        "  - id: otsu\n    segmenter: otsu\n    inputs: {images: phantom.image}\n"
        "outputs: [phantom, otsu]\n"
    )
    assert main(["run", str(tmp_path / "seg.yaml"), "-o", str(tmp_path / "out.h5")]) == 0
    with h5py.File(tmp_path / "out.h5") as f:
        assert f["steps/otsu/probabilities"].shape == (2, 64, 64, 2)
        assert f["steps/otsu/uncertainty"].shape == (2, 64, 64)
        truth = f["steps/phantom/labels"][()]
        from tomokit import metrics

        assert metrics.mean_f1(f["steps/otsu/labels"][()], truth) > 0.95
