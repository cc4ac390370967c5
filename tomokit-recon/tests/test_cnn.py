"""cnn_reconstruct: training data, training beats back-projection, files, wrong sizes, OOD."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import tomokit
from tomokit import InvalidInputError
from tomokit_recon import simulate_sinogram

pytest.importorskip("tensorflow")

SIZE = 32
#: The CI recipe: the report's architecture at small widths (seconds on 2 cores).
CI_RECIPE = dict(epochs=8, batch_size=32, learning_rate=3e-3, conv_filters=64, dense_units=512,
                 dense_layers=2, dropout=0.0, refine_filters=16, device="cpu",
                 early_stopping=None, validation_fraction=0.1, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """One CI model trained on the random-shapes library, saved to a file."""
    from tomokit_recon.cnn import CNNReconstruct, make_reconstruction_data

    data = make_reconstruction_data("random_shapes", 450, SIZE, seed=0)
    model = CNNReconstruct(device="cpu")
    report = model.fit(data, train=CI_RECIPE)
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    model.save(path)
    return model, report, path


def test_data_are_deterministic_and_checked() -> None:
    from tomokit_recon.cnn import make_reconstruction_data, phantom_images

    a = make_reconstruction_data("mixed", 4, SIZE, n_angles=20, seed=3)
    b = make_reconstruction_data("mixed", 4, SIZE, n_angles=20, seed=3)
    assert a["sinogram"].shape == (4, 20, SIZE) and a["image"].shape == (4, SIZE, SIZE)
    np.testing.assert_array_equal(a["sinogram"], b["sinogram"])
    assert np.allclose(a["image"].max(axis=(1, 2)), 1.0)
    # mixed alternates the libraries: row 0 is catalyst-like, row 1 random shapes
    np.testing.assert_array_equal(a["image"][0], phantom_images("catalyst", 1, SIZE, seed=3)[0])
    np.testing.assert_array_equal(a["image"][1],
                                  phantom_images("random_shapes", 2, SIZE, seed=3)[1])
    # photon noise: noisy sinograms differ from the noise-free projection
    clean = simulate_sinogram(a["image"][0], n_angles=20).data
    assert not np.allclose(a["sinogram"][0], clean)
    with pytest.raises(InvalidInputError, match="library"):
        make_reconstruction_data("faces", 4, SIZE)


def test_architecture_connects_the_dense_blocks() -> None:
    from tomokit_recon._cnn_layers import build_cnn_reconstruct

    net = build_cnn_reconstruct((64, 64), 64)
    names = [layer.name for layer in net.layers]
    assert sum(n.startswith("encode") for n in names) == 4
    assert sum(n.startswith("refine") for n in names) == 3
    # the dense blocks are chained (the published code feeds each the flattened tensor):
    # with the first dense layer zeroed, every input gives the same image
    x = np.random.default_rng(0).random((2, 64, 64, 1)).astype(np.float32)
    out = np.asarray(net.predict_on_batch(x))
    assert not np.allclose(out[0], out[1])
    dense1 = net.get_layer("dense1")
    dense1.set_weights([np.zeros_like(w) for w in dense1.get_weights()])
    out = np.asarray(net.predict_on_batch(x))
    np.testing.assert_allclose(out[0], out[1])
    assert net.get_layer("dense1").kernel.shape == (4 * 4 * 64, 1000)
    assert net.get_layer("to_image").kernel.shape == (1000, 64 * 64)
    assert net.output_shape == (None, 64, 64, 1)


def test_training_beats_back_projection(trained) -> None:
    from tomokit_recon.cnn import back_projection, best_scale, make_reconstruction_data

    model, report, _ = trained
    assert report.history["loss"][-1] < report.history["loss"][0]
    test = make_reconstruction_data("random_shapes", 40, SIZE, seed=1)
    sinos, truth = test["sinogram"], test["image"]
    pred = model.reconstruct_many(sinos)
    bp = best_scale(back_projection(sinos, test.attrs["angles"]), truth)
    mse_cnn, mse_bp = np.mean((pred - truth) ** 2), np.mean((bp - truth) ** 2)
    assert mse_cnn < mse_bp, (mse_cnn, mse_bp)
    assert "bp_mse" in report.validation and "ood_threshold" in report.validation


def test_save_load_identical_and_wrong_size(trained) -> None:
    from tomokit_recon.cnn import CNNReconstruct, make_reconstruction_data

    model, _, path = trained
    test = make_reconstruction_data("random_shapes", 6, SIZE, seed=2)
    again = CNNReconstruct.from_file(path, device="cpu")
    np.testing.assert_array_equal(model.reconstruct_many(test["sinogram"]),
                                  again.reconstruct_many(test["sinogram"]))
    np.testing.assert_array_equal(model.ood_score(test["sinogram"]),
                                  again.ood_score(test["sinogram"]))
    loaded = tomokit.load("reconstructor", "cnn_reconstruct", model=str(path), device="cpu")
    sino = simulate_sinogram(test["image"][0], n_angles=SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = loaded.reconstruct(sino)
    assert image.shape == (SIZE, SIZE) and np.all(np.isfinite(image))
    wrong = simulate_sinogram(np.zeros((48, 48), np.float32), n_angles=SIZE)
    with pytest.raises(InvalidInputError, match="32 angles x 32 detectors, got 32 x 48"):
        loaded.reconstruct(wrong)
    with pytest.raises(InvalidInputError, match="sinogram"):
        loaded.reconstruct(test["sinogram"][0])  # an array, not a Sinogram


def test_ood_flags_the_other_library(trained) -> None:
    from tomokit_recon.cnn import OutOfDistributionWarning, make_reconstruction_data

    model, _, path = trained
    same = make_reconstruction_data("random_shapes", 60, SIZE, seed=5)
    other = make_reconstruction_data("catalyst", 60, SIZE, seed=5)
    flag_same = model.is_out_of_distribution(same["sinogram"]).mean()
    flag_other = model.is_out_of_distribution(other["sinogram"]).mean()
    assert flag_other > flag_same + 0.25, (flag_same, flag_other)
    assert flag_same < 0.3
    loaded = tomokit.load("reconstructor", "cnn_reconstruct", model=str(path), device="cpu")
    idx = int(np.argmax(model.ood_score(other["sinogram"])))
    sino = simulate_sinogram(other["image"][idx], n_angles=SIZE)
    with pytest.warns(OutOfDistributionWarning, match="outside the training distribution"):
        loaded.reconstruct(sino)


def test_bad_training_data_is_one_clear_error(tmp_path: Path) -> None:
    from tomokit.learn import TrainData
    from tomokit_recon.cnn import CNNReconstruct

    data = TrainData.from_arrays(x=np.zeros((4, 8, 8), np.float32))
    with pytest.raises(InvalidInputError, match="no 'sinogram' array"):
        CNNReconstruct(device="cpu").fit(data, train={"epochs": 1, "device": "cpu"})
