"""``tomokit report``: one self-contained HTML page for a results file, checked in a real
headless browser (Chromium from the OS packages; .ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tomokit.cli import main
from tomokit.pipeline import parse_pipeline, run_pipeline
from tomokit.report import write_report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "choose_filter.yaml"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tomokit_recon.filters")
    text = EXAMPLE.read_text().replace("outputs: [recon, ssim,", "outputs: [recon, filtered, ssim,")
    out = tmp_path_factory.mktemp("report") / "choose.h5"
    run_pipeline(parse_pipeline(text, file=str(EXAMPLE), base_dir=EXAMPLE.parent), out)
    return out


def test_report_holds_provenance_thumbnails_tables_and_the_ranking(results: Path, tmp_path):
    page = write_report(results, tmp_path / "r.html").read_text()
    # recon, 9 candidates, the ranking's 9, and the selected best
    assert page.count('<img class="thumb"') == 1 + 9 + 9 + 1
    assert "filtered (9 candidates)" in page and "ssim (9 candidates)" in page
    assert '<tr class="best">' in page and "tv_denoise:weight=0.1" in page
    assert "local, 2 worker(s)" in page or "local" in page
    assert "<script" not in page and "http" not in page.split("<h2>Pipeline</h2>")[0]
    assert "phantom: electrode" in page  # the pipeline text


def test_report_command_and_its_errors(results: Path, tmp_path, capsys):
    assert main(["report", str(results), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").is_file()
    assert main(["report", str(results), "-o", str(tmp_path / "r.h5")]) == 2
    assert main(["report", str(results), "-o", str(results)]) == 2
    np.save(tmp_path / "x.npy", np.zeros(3))
    assert main(["report", str(tmp_path / "x.npy"), "-o", str(tmp_path / "x.html")]) == 2
    assert "not a readable HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_report_of_a_volume_reads_only_the_middle_slice(tmp_path):
    from tomokit.io import write_array

    vol = np.random.default_rng(0).random((40, 32, 32)).astype(np.float32)
    write_array(tmp_path / "vol.h5", vol, dataset="/data")
    text = """
inputs: {vol: {path: vol.h5, dataset: /data}}
steps:
  - {id: noisy, distortion: noise, params: {level: 1}, inputs: [vol]}
  - {id: mse, observer: mse, params: {data_range: 1.0}, inputs: {reference: vol, distorted: noisy}}
"""
    out = run_pipeline(parse_pipeline(text, file=str(tmp_path / "p.yaml"), base_dir=tmp_path),
                       tmp_path / "out.h5").output
    page = write_report(out, tmp_path / "r.html").read_text()
    assert "(40, 32, 32) (middle slice)" in page
    assert "<svg" in page and "40 values" in page  # per-slice values plotted


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
def test_report_in_a_headless_browser(results: Path, tmp_path):
    import imageio.v3 as iio

    page = write_report(results, tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", "--window-size=1200,1600",
           f"--screenshot={shot}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln]
    assert console == [], console  # the page logged nothing: no errors
    image = iio.imread(shot)[..., :3]
    assert image.shape[:2] == (1600, 1200)
    # thumbnails are grey-scale images: many mid-grey pixels, which text on white has not
    grey = np.all(np.abs(image.astype(int) - image[..., :1]) < 3, axis=-1) & (
        image[..., 0] > 40) & (image[..., 0] < 215)
    assert grey.mean() > 0.05, grey.mean()
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert len(re.findall(r'<img class="thumb"', dom)) == 20


def test_run_writes_the_report_and_checks_its_path_first(tmp_path, capsys):
    """`tomokit run --report`: the page after the run; a bad --report path is refused
    before anything runs (no results file either). Class probabilities (H, W, C) are an
    image (the most probable class), not a plot of H x W x C values."""
    (tmp_path / "p.yaml").write_text("""
steps:
  - {id: ph, phantom: electrode, params: {size: 48}}
  - {id: seg, segmenter: otsu, inputs: {images: ph}}
""")
    out, page = tmp_path / "out.h5", tmp_path / "out.html"
    for bad in (tmp_path / "out.png", out, tmp_path / "p.yaml"):
        assert main(["run", str(tmp_path / "p.yaml"), "-o", str(out), "--report", str(bad),
                     "-q"]) == 2
        assert not out.exists()
    assert "--report" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "p.yaml"), "-o", str(out), "--report", str(page),
                 "-q"]) == 0
    text = page.read_text()
    assert "(48, 48, 2) (most probable class)" in text
    assert text.count('<img class="thumb"') >= 3
