"""``tomokit choose``: candidate chains on a sample of slices, scored, ranked, the best
over the whole volume; the pipeline it builds; and its errors (one line, no output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tomokit
from tomokit.choose import (
    Chain,
    build_pipeline,
    format_chain,
    load_candidates,
    parse_chain,
    sample_indices,
)
from tomokit.cli import main
from tomokit.errors import InvalidInputError, PipelineError

pytest.importorskip("tomokit_recon.filters")
pytest.importorskip("tomokit_iqa")

CANDIDATES = """\
candidates:
  - none
  - filter: median
    grid: {size: [3]}
  - filter: gaussian
    grid: {sigma: [1.0]}
  - chain:
      - {filter: ring_removal_polar, params: {radial_size: 11}}
      - {filter: tv_denoise, grid: {weight: [0.05, 0.1]}}
"""


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A noisy 6-slice stack (disc phantoms) in 1/cm-like units, and its clean version."""
    folder = tmp_path_factory.mktemp("choose")
    rng = np.random.default_rng(0)
    yy, xx = np.indices((64, 64))
    clean = np.stack([((xx - 32 - k) ** 2 + (yy - 30) ** 2 < (14 + k) ** 2) * 20.0 + 5.0
                      + 10.0 * ((xx - 20) ** 2 + (yy - 40) ** 2 < 36) for k in range(6)])
    noisy = clean + rng.normal(0, 3.0, clean.shape)
    np.save(folder / "noisy.npy", noisy.astype(np.float32))
    np.save(folder / "clean.npy", clean.astype(np.float32))
    (folder / "cands.yaml").write_text(CANDIDATES)
    return {"noisy": folder / "noisy.npy", "clean": folder / "clean.npy",
            "cands": folder / "cands.yaml"}


def test_chain_text_round_trips_and_accepts_a_candidate_label() -> None:
    steps = [("ring_removal_polar", {"radial_size": 21}), ("tv_denoise", {"weight": 0.05})]
    text = format_chain(steps)
    assert text == "ring_removal_polar(radial_size=21)+tv_denoise(weight=0.05)"
    assert parse_chain(text) == steps
    assert parse_chain("chain=" + text) == steps
    assert parse_chain("none") == [] and format_chain([]) == "none"
    with pytest.raises(ValueError, match="closing"):
        parse_chain("median(size=3")


def test_chain_is_the_filters_in_order_and_scales_intensity_params() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((40, 40)).astype(np.float32)
    median = tomokit.load("filter", "median", size=3)
    tv = tomokit.load("filter", "tv_denoise", weight=0.1)
    chain = Chain(chain="median(size=3)+tv_denoise(weight=0.1)")
    np.testing.assert_array_equal(chain.filter(image), tv.filter(median.filter(image)))
    # chosen on [0, 1] data, the same chain applies to data in other units
    low, scale = -3.0, 25.0
    raw = image * scale + low
    scaled = Chain(chain="tv_denoise(weight=0.1)+nl_means(h=0.1)", data_range=scale,
                   data_min=low)
    unit = Chain(chain="tv_denoise(weight=0.1)+nl_means(h=0.1)")
    np.testing.assert_allclose((scaled.filter(raw) - low) / scale, unit.filter(image),
                               atol=2e-4)
    assert np.array_equal(Chain(chain="none").filter(image), image)
    clipped = Chain(chain="unsharp_mask(amount=3.0)", clip=True).filter(image)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0


def test_sample_indices_are_even_and_checked() -> None:
    assert sample_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert sample_indices(3, 3).tolist() == [0, 1, 2]
    assert sample_indices(1, 1).tolist() == [0]
    for bad in (0, 101):
        with pytest.raises(InvalidInputError, match=r"--slices .*1\.\.100"):
            sample_indices(100, bad)


def test_default_candidates_are_denoising_and_ring_removal() -> None:
    chains = load_candidates()
    assert chains[0] == "none" and len(chains) == len(set(chains)) == 14
    names = {name for c in chains for name, _ in parse_chain(c)}
    assert names == {"median", "gaussian", "tv_denoise", "nl_means", "ring_removal_polar"}
    assert "ring_removal_polar(radial_size=21)+tv_denoise(weight=0.03)" in chains


@pytest.mark.parametrize("text,line,message", [
    ("candidates:\n  - filter: medain\n", 2, "unknown filter 'medain'; did you mean 'median'"),
    ("candidates:\n  - none\n  - filter: median\n    grid: {sise: [3]}\n", 4,
     "unknown param 'sise' for filter 'median'; did you mean 'size'"),
    ("candidates:\n  - filter: median\n    grid: {size: [-1]}\n", 3, "filter 'median'"),
    ("candidates:\n  - filter: stripe_sorting\n", 2, "works on sinograms"),
    ("candidates:\n  - filter: median\n    grid: {size: 3}\n", 3, "lists values"),
    ("candidates: [none\n", 1, ""),
    ("candidate:\n  - none\n", 1, "'candidates' list"),
])
def test_bad_candidates_name_the_file_and_line(tmp_path: Path, text: str, line: int,
                                                message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(PipelineError) as info:
        load_candidates(path)
    assert str(info.value).startswith(f"{path}:") and info.value.line is not None
    assert info.value.line == line or text.startswith("candidates: [")
    assert message in str(info.value)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_choose_ranks_applies_the_best_and_reports(scans: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from tomokit.pipeline import read_results

    out, html, saved = tmp_path / "out.h5", tmp_path / "report.html", tmp_path / "p.yaml"
    code, stdout, err = _run(["choose", str(scans["noisy"]), "--candidates", str(scans["cands"]),
                              "--scorer", "brisque_tomo", "--slices", "3", "-o", str(out),
                              "--report", str(html), "--save-pipeline", str(saved), "-q"],
                             capsys)
    assert code == 0, err
    results = read_results(out)
    table = results["ranking"]["ranking"]
    labels = [c.decode() for c in table["candidate"]]
    assert len(labels) == 5 and sorted(labels) == sorted(
        f"chain={c}" for c in load_candidates(scans["cands"]))
    means = {lab: float(np.mean(results[f"score[{lab}]"])) for lab in labels}
    assert [means[lab] for lab in labels] == sorted(means.values(), reverse=True)  # higher is better
    assert np.asarray(results["sample"]["indices"]).tolist() == [1, 3, 5]
    best = labels[0].removeprefix("chain=")
    assert f"best: {best}" in stdout
    assert best != "none"  # every smoothing beats the raw noise for brisque_tomo
    # the chosen chain over the whole volume, in its own units
    noisy = np.load(scans["noisy"])
    low, scale = float(results["sample"]["low"]), float(results["sample"]["scale"])
    expected = Chain(chain=best, data_range=scale, data_min=low).run_step(
        {"image": noisy}, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.asarray(results["chosen"]), expected, rtol=1e-6, atol=1e-5)
    page = html.read_text()
    assert page.count("<figcaption>#") == 5 and f"#1 chain={best}" in page
    # the saved pipeline is the run: run again through the core runner, same ranking
    from tomokit.pipeline import load_pipeline, run_pipeline

    again = run_pipeline(load_pipeline(saved), tmp_path / "again.h5")
    assert [c.decode() for c in again.values["ranking"]["ranking"]["candidate"]] == labels


def test_an_observer_with_a_reference_prefers_denoising(
        scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tomokit.pipeline import read_results

    out = tmp_path / "ssim.h5"
    code, _, err = _run(["choose", str(scans["noisy"]), "--candidates", str(scans["cands"]),
                         "--scorer", "ssim", "--reference", str(scans["clean"]), "-o", str(out),
                         "-q"], capsys)
    assert code == 0, err
    results = read_results(out)
    labels = [c.decode() for c in results["ranking"]["ranking"]["candidate"]]
    assert labels[-1] == "chain=none"  # each candidate is closer to the clean volume
    assert len(np.asarray(results["sample"]["indices"])) == 6  # all of a small volume


@pytest.mark.parametrize("extra,message", [
    (["--slices", "0"], "--slices 0: the volume has 6 slice(s); give 1..6"),
    (["--slices", "7"], "--slices 7: the volume has 6 slice(s); give 1..6"),
    (["--scorer", "brisk"], "--scorer 'brisk': no scorer or observer of that name; did you mean"),
    (["--scorer", "ssim"], "give --reference REF"),
    (["--scorer", "tiqa", "--param", "model=missing.keras"],
     "model missing.keras: no such file"),
    (["--candidates", "nowhere.yaml"], "--candidates nowhere.yaml: no such file"),
])
def test_bad_input_is_one_line_and_leaves_no_output(
        scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        extra: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.h5"
    code, _, err = _run(["choose", str(scans["noisy"]), "--scorer", "brisque", *extra,
                         "-o", str(out)], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # nothing written, no hidden leftovers


def test_a_missing_input_and_an_existing_foreign_output(
        scans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["choose", str(tmp_path / "none.tif"), "--scorer", "brisque",
                         "-o", str(tmp_path / "o.h5")], capsys)
    assert code == 2 and "none.tif: no such file" in err
    foreign = tmp_path / "notes.h5"
    foreign.write_text("mine")
    code, _, err = _run(["choose", str(scans["noisy"]), "--scorer", "brisque",
                         "-o", str(foreign)], capsys)
    assert code == 2 and "already exists" in err and foreign.read_text() == "mine"


def test_tiqa_without_a_model_suggests_brisque(scans: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing model (named, or none installed) is one line, before anything runs."""
    code, _, err = _run(["choose", str(scans["noisy"]), "--param", "model=missing.keras",
                         "-o", str(tmp_path / "o.h5")], capsys)
    assert code == 2 and "model missing.keras: no such file" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o.h5").exists()
    cls = type(tomokit.load("scorer", "tiqa"))  # as if the shipped model were not installed
    monkeypatch.setattr(cls, "model_path_or_none", lambda self: None)
    code, _, err = _run(["choose", str(scans["noisy"]), "-o", str(tmp_path / "o.h5")], capsys)
    assert code == 2 and "no model installed" in err and "--scorer brisque" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o.h5").exists()


def test_build_pipeline_validates_and_names_the_steps(scans: dict[str, Path]) -> None:
    from tomokit.pipeline import parse_pipeline

    text = build_pipeline(scans["noisy"], ["none", "median(size=3)"], scorer="brisque", slices=2)
    pipeline = parse_pipeline(text)
    ids = [s.id for s in pipeline.steps]
    assert ids[0] == "sample" and ids[-2:] == ["ranking", "chosen"]
    assert "candidate[chain=median(size=3)]" in ids
    ranking = next(s for s in pipeline.steps if s.id == "ranking")
    assert ranking.params.higher_is_better is False  # BRISQUE: lower is better
