"""The evaluation scripts (benchmarks/segmentation_table.py, segmentation_figure.py) run on a
tiny model and tiny phantoms, and the shipped model (when trained) loads and beats Otsu."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

import tomokit
from tomokit import metrics

pytest.importorskip("keras")
pytest.importorskip("tomokit_iqa")

from tomokit_seg.dlinknet import QUICK_RECIPE, DLinkNet
from tomokit_seg.evaluate import align_labels, distorted, distortion_scores

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SHIPPED = Path(__file__).resolve().parents[1] / "src" / "tomokit_seg" / "models" / "dlinknet.keras"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A 1-epoch quick-recipe model on 4 mixed 64 px phantoms; (model, workdir)."""
    work = tmp_path_factory.mktemp("seg")
    train = runpy.run_path(str(BENCH / "segmentation_train.py"))
    path = train["make_mixed"](work, "train", count=4, size=64)
    net = DLinkNet()
    net.fit(str(path), train={**QUICK_RECIPE, "epochs": 1})
    model = work / "tiny.keras"
    net.save(model)
    return model, work


def test_distortion_scores_rows_and_level_zero_shared(two_phase):
    image, labels = two_phase
    segs = {"otsu": tomokit.load("segmenter", "otsu"),
            "kmeans": tomokit.load("segmenter", "kmeans", classes=2)}
    rows = distortion_scores(segs, image[None], labels[None], distortions=("noise", "blur"),
                             levels=(0, 4), trained=())
    assert [(r["distortion"], r["level"]) for r in rows] == [
        ("noise", 0), ("noise", 4), ("blur", 0), ("blur", 4)]
    assert rows[0]["scores"] == rows[2]["scores"]
    # the noise-4 cell is what scoring the distorted slice directly gives
    x = distorted(image[None], "noise", 4)[0]
    pred, _ = align_labels(segs["otsu"].segment(x), labels, n_classes=2)
    assert rows[1]["scores"]["otsu"]["mean_f1"] == pytest.approx(metrics.mean_f1(pred, labels))
    assert rows[1]["scores"]["otsu"]["mean_f1"] < rows[0]["scores"]["otsu"]["mean_f1"]


@pytest.mark.slow
def test_table_and_figure_scripts_on_a_tiny_model(tiny, tmp_path: Path, capsys):
    model, work = tiny
    table = runpy.run_path(str(BENCH / "segmentation_table.py"))["main"]
    out = tmp_path / "t"
    assert table(["--model", str(model), "--count", "1", "--size", "64", "--levels", "0", "3",
                  "--no-battery", "--workdir", str(work), "--out", str(out)]) == 0
    capsys.readouterr()
    res = json.loads(out.with_suffix(".json").read_text())
    rows = res["all"]["rows"]
    assert [(r["distortion"], r["level"]) for r in rows] == [
        (d, lv) for d in ("noise", "blur", "ring") for lv in (0, 3)]
    for r in rows:
        assert set(r["scores"]) == {"dlinknet", "otsu", "multi_otsu", "fuzzy_cmeans", "kmeans"}
        for s in r["scores"].values():
            assert len(s["per_image"]) == 2 and 0.0 <= s["mean_f1"] <= 1.0
    summ = res["all"]["summary"]
    assert summ["best_on_average"] in summ["mean_f1"] and set(summ["best_at_noise_level"]) == {"3"}
    # the "both" rows average the two families' slices
    fams = res["families"]
    want = np.mean([fams[f]["rows"][1]["scores"]["otsu"]["mean_f1"] for f in fams])
    assert rows[1]["scores"]["otsu"]["mean_f1"] == pytest.approx(want)
    md = out.with_suffix(".md").read_text()
    assert "| noise | 3 |" in md and "**" in md
    # the test phantoms' seeds differ from the training phantoms'
    assert res["data"]["seeds"] == {"electrode": 2, "jelly_roll": 12}

    fig = runpy.run_path(str(BENCH / "segmentation_figure.py"))["main"]
    png = tmp_path / "fig.png"
    assert fig(["--model", str(model), "--table", str(out.with_suffix(".json")), "--workdir",
                str(work), "--out", str(png)]) == 0
    import imageio.v3 as iio

    img = iio.imread(png)
    assert img.shape[0] > 500 and img.shape[1] > 1000 and img[..., :3].std() > 10


def test_battery_reference_is_the_slice_itself():
    battery = runpy.run_path(str(BENCH / "segmentation_table.py"))["battery"]
    segs = {"multi_otsu": tomokit.load("segmenter", "multi_otsu", classes=2)}
    res = battery(segs, [0, 5])
    assert res["grey_levels"] == 2  # the bundled slice is binary: multi-Otsu is exact
    assert res["rows"][0]["scores"]["multi_otsu"]["mean_f1"] == 1.0
    assert res["rows"][1]["scores"]["multi_otsu"]["mean_f1"] < 1.0


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped model not trained")
def test_shipped_model_loads_and_beats_otsu_on_a_held_out_phantom():
    from tomokit import get_registry
    from tomokit_phantom import acquire

    assert "tomokit-seg/dlinknet" in {m.name for m in get_registry().models()}
    assert SHIPPED.stat().st_size <= 30e6
    side = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert {"f1/clean", "f1/noise/5", "f1/ring/5", "f1/blur/5"} <= set(side["validation"])
    net = tomokit.load("segmenter", "dlinknet", classes=2)  # the hook's model, safe_mode
    smp = tomokit.load("phantom", "electrode", size=256).generate((256, 256), 987_654)
    truth = np.isin(smp.labels, [smp.phases.index("active")]).astype(np.uint8)
    x = distorted(acquire(smp, rng=5).image[None], "noise", 4)[0]  # electrodes: ties at 3
    otsu, _ = align_labels(tomokit.load("segmenter", "otsu").segment(x), truth, n_classes=2)
    assert metrics.mean_f1(net.segment(x), truth) > metrics.mean_f1(otsu, truth)
