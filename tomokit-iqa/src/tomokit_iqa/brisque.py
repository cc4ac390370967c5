"""BRISQUE (Mittal, Moorthy and Bovik 2012): the 36 natural-scene-statistics features of
the MATLAB release and two SVR scorers on them.

``brisque`` is the LIVE release model (trained on the whole LIVE database; 0 is best,
about 100 worst, so lower is better); ``brisque_tomo`` is the same features with an SVR
retrained on tomokit's own auto-labelled tomography datasets (it predicts the 1..5
label scale, so higher is better). Both run the SVR in numpy (:mod:`tomokit_iqa.svr`).

Features, as ``brisque_feature.m`` computes them on the 0..255 scale, at two scales
(the image, then MATLAB ``imresize(I, 0.5)``, bicubic with antialiasing):

* MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7 x 7 Gaussian window
  (sigma 7/6, normalised), ``filter2(..., 'same')`` so zero padding at the border;
* the GGD fit of the MSCN coefficients (shape by the 0.2:0.001:10 grid, variance): 2;
* the AGGD fit of the four paired products with the horizontal, vertical and both
  diagonal neighbours (``circshift``, so wrapping): shape, mean, left and right
  variance: 4 x 4 = 16.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy.ndimage import correlate1d
from scipy.special import gamma as gamma_fn

from tomokit import InvalidInputError, Params, Scorer, Task
from tomokit.components import SliceMapper, check_image, resolve_data_range
from tomokit_iqa.imresize import imresize
from tomokit_iqa.svr import RBFSVR

__all__ = [
    "BRISQUE",
    "MIN_SIZE",
    "BRISQUEFit",
    "BRISQUETomo",
    "brisque_features",
    "fit_brisque_svr",
    "live_model",
    "matlab_rgb2gray",
]

#: Smallest side BRISQUE accepts: the 7 x 7 window must fit at the half scale.
MIN_SIZE = 14
N_FEATURES = 36
FEATURE_SET = "brisque-36/matlab"
_GRID = 0.2 + 0.001 * np.arange(9801)  # 0.2:0.001:10 of MATLAB


@lru_cache(maxsize=1)
def _gaussian_taps() -> np.ndarray:
    """1-D factor of ``fspecial('gaussian', 7, 7/6)`` normalised to sum 1 (it is separable)."""
    x = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * (7.0 / 6.0) ** 2))
    return g / g.sum()


@lru_cache(maxsize=1)
def _ratio_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``r(g) = G(1/g) G(3/g) / G(2/g)^2`` (GGD) and its inverse (AGGD) on the grid, and
    the gamma factors of the AGGD mean."""
    g1, g2, g3 = gamma_fn(1.0 / _GRID), gamma_fn(2.0 / _GRID), gamma_fn(3.0 / _GRID)
    r_ggd = g1 * g3 / (g2 * g2)
    return r_ggd, 1.0 / r_ggd, g2 / g1, np.sqrt(g1) / np.sqrt(g3)


def _filter(x: np.ndarray) -> np.ndarray:
    """``filter2(window, x, 'same')`` on the last two axes (zero padding)."""
    g = _gaussian_taps()
    out = correlate1d(x, g, axis=-2, mode="constant", cval=0.0)
    return correlate1d(out, g, axis=-1, mode="constant", cval=0.0)


def mscn(images: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of ``(N, H, W)`` images on 0..255."""
    mu = _filter(images)
    var = _filter(images * images) - mu * mu
    return (images - mu) / (np.sqrt(np.abs(var)) + 1.0)


def _ggd(vec: np.ndarray) -> tuple[float, float]:
    r_ggd = _ratio_tables()[0]
    sigma_sq = float(np.mean(vec * vec))
    e = float(np.mean(np.abs(vec)))
    rho = sigma_sq / (e * e)
    return float(_GRID[int(np.argmin(np.abs(rho - r_ggd)))]), sigma_sq


def _aggd(vec: np.ndarray, where: str = "image") -> tuple[float, float, float, float]:
    _, r_aggd, g21, g13 = _ratio_tables()
    sq = vec * vec
    neg = vec < 0
    pos = vec > 0
    n_neg, n_pos = int(np.count_nonzero(neg)), int(np.count_nonzero(pos))
    if n_neg == 0 or n_pos == 0:
        raise InvalidInputError(
            f"{where}: too little texture (neighbouring MSCN products all of one sign); "
            "BRISQUE is undefined for nearly constant images"
        )
    left = math.sqrt(float(np.sum(sq, where=neg)) / n_neg)
    right = math.sqrt(float(np.sum(sq, where=pos)) / n_pos)
    gh = left / right
    rhat = float(np.mean(np.abs(vec))) ** 2 / float(np.mean(sq))
    rnorm = rhat * (gh**3 + 1.0) * (gh + 1.0) / (gh**2 + 1.0) ** 2
    k = int(np.argmin((r_aggd - rnorm) ** 2))
    mean = (right - left) * g21[k] * g13[k]
    return float(_GRID[k]), float(mean), left * left, right * right


#: ``circshift`` offsets of ``brisque_feature.m``: horizontal, vertical, main and
#: secondary diagonal neighbours.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def _one_scale(s: np.ndarray, where: str) -> list[float]:
    if not np.any(s):
        raise InvalidInputError(
            f"{where}: the image is constant (no contrast at all); BRISQUE's statistics are "
            "undefined for it"
        )
    alpha, var = _ggd(s.ravel())
    feats = [alpha, var]
    pair = np.empty_like(s)
    for dy, dx in _SHIFTS:
        np.multiply(s, np.roll(s, (dy, dx), axis=(0, 1)), out=pair)
        feats.extend(_aggd(pair.ravel(), where))
    return feats


def brisque_features(images: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features of each image of a ``(N, H, W)`` stack (or one 2-D image)
    on the 0..255 scale, in the order of ``brisque_feature.m``."""
    arr = check_image(images, name="images")
    stack = np.asarray(arr[None] if arr.ndim == 2 else arr, dtype=np.float64)
    h, w = stack.shape[1:]
    if min(h, w) < MIN_SIZE:
        raise InvalidInputError(
            f"images: {h}x{w} is smaller than BRISQUE's minimum {MIN_SIZE}x{MIN_SIZE} "
            "(the 7x7 window must fit at the half scale)"
        )
    out = np.empty((len(stack), N_FEATURES), dtype=np.float64)
    s1 = mscn(stack)
    s2 = mscn(imresize(stack, 0.5))
    for i in range(len(stack)):
        out[i, :18] = _one_scale(s1[i], f"images[{i}]")
        out[i, 18:] = _one_scale(s2[i], f"images[{i}]")
    return out


def matlab_rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 image as ``brisquescore.m`` calls it (rounded to
    integers), returned as float64 on 0..255."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise InvalidInputError(f"rgb: expected (H, W, 3), got shape {arr.shape}")
    coef = np.linalg.inv(
        np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
    )[0]
    grey = arr.astype(np.float64) @ coef
    return np.clip(np.floor(grey + 0.5), 0, 255)


# ---------------------------------------------------------------------------- models
_LIVE = "data/brisque_live"
_TOMO = "data/brisque_tomo.npz"


def _package_file(rel: str) -> Path:
    return Path(str(resources.files("tomokit_iqa").joinpath(rel)))


@lru_cache(maxsize=1)
def live_model() -> RBFSVR:
    """The LIVE release SVR (``allmodel``/``allrange``; see ``data/brisque_live/README``),
    with the release's text round trips between MATLAB, ``svm-scale`` and ``svm-predict``."""
    base = _package_file(_LIVE)
    model = RBFSVR.from_libsvm(base / "allmodel", base / "allrange", text_io=True)
    model.info.update({"scorer": "brisque", "features": FEATURE_SET, "target": "LIVE DMOS"})
    return model


@lru_cache(maxsize=8)
def _load_svr(path: str, mtime: float) -> RBFSVR:
    return RBFSVR.load(path)


class BRISQUEParams(Params):
    """Parameters of both BRISQUE scorers."""

    data_range: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "White level of the input (255 for 8-bit, 1.0 for [0, 1] floats); the image is "
            "rescaled to 0..255 as the MATLAB code expects. None: the integer dtype's "
            "maximum; float input then needs an explicit value."
        ),
    )
    model: str | None = Field(
        None, description="SVR model file (.npz with a JSON sidecar); None: the shipped one."
    )
    range_tolerance: float = Field(
        1e-6, ge=0, allow_inf_nan=False,
        description="Relative slack on [0, data_range] before out-of-range data is an error.",
    )


class _BRISQUEScorer(Scorer):
    """Shared scoring: features on 0..255, then the SVR."""

    Params = BRISQUEParams
    batch_size: ClassVar[int | None] = 16
    default_file: ClassVar[str | None] = None

    def _model(self) -> RBFSVR:
        p = self.params
        assert isinstance(p, BRISQUEParams)
        if p.model is None:
            if self.default_file is None:
                return live_model()
            path = _package_file(self.default_file)
        else:
            path = Path(p.model)
        if not path.is_file():
            raise InvalidInputError(f"model: no such file {path}")
        model = _load_svr(str(path), path.stat().st_mtime)
        if model.info.get("features") != FEATURE_SET or model.n_features != N_FEATURES:
            raise InvalidInputError(
                f"model: {path} is not a BRISQUE model (features "
                f"{model.info.get('features')!r}, {model.n_features} per image; expected "
                f"{FEATURE_SET!r}, {N_FEATURES}); is it a model of another scorer?"
            )
        return model

    def to_255(self, images: np.ndarray) -> np.ndarray:
        """Check ``images`` against ``data_range`` and return them on 0..255 (float64)."""
        p = self.params
        assert isinstance(p, BRISQUEParams)
        raw = np.asarray(images)
        arr = check_image(raw, name="images")
        dr = 1.0 if raw.dtype == np.bool_ and p.data_range is None else resolve_data_range(
            p.data_range, raw, who='brisque')  # the core's one policy
        lo, hi = float(arr.min()), float(arr.max())
        slack = p.range_tolerance * dr
        if lo < -slack or hi > dr + slack:
            raise InvalidInputError(
                f"data_range: the images span [{lo:.6g}, {hi:.6g}], outside [0, {dr:g}]; "
                "pass the right data_range or normalise the data first"
            )
        return np.asarray(arr, dtype=np.float64) * (255.0 / dr)

    def features(self, images: np.ndarray) -> np.ndarray:
        """The 36 features of ``images`` (in ``[0, data_range]``)."""
        return brisque_features(self.to_255(images))

    def score(self, images: np.ndarray) -> np.ndarray:
        model = self._model()
        return np.asarray(model.predict(self.features(images)), dtype=np.float64)

    def run_step(
        self,
        inputs: Mapping[str, Any],
        *,
        rng: np.random.Generator,
        mapper: SliceMapper | None = None,
    ) -> Any:
        return self.score(np.asarray(inputs["images"]))


class BRISQUE(_BRISQUEScorer):
    """BRISQUE with the LIVE release model (natural images; 0 best, ~100 worst)."""

    higher_is_better: ClassVar[bool] = False


class BRISQUETomo(_BRISQUEScorer):
    """BRISQUE features with an SVR retrained on tomography (predicts the 1..5 labels)."""

    higher_is_better: ClassVar[bool] = True
    default_file: ClassVar[str | None] = _TOMO


# ------------------------------------------------------------------------------ fit
def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """SROCC, or None where it is undefined (JSON has no NaN)."""
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def fit_brisque_svr(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    C: float = 256.0,
    epsilon: float = 0.3,
    gamma: float = 0.05,
) -> RBFSVR:
    """Fit an RBF epsilon-SVR (scikit-learn) on raw features scaled to [-1, 1] as
    ``svm-scale`` does, and return it as an :class:`RBFSVR` (numpy only at predict time)."""
    from sklearn.svm import SVR

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).ravel()
    if x.ndim != 2 or x.shape[0] != y.size or x.shape[0] < 2:
        raise InvalidInputError(
            f"features/targets: need (n, k) features and n targets with n >= 2, got "
            f"{x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InvalidInputError("features/targets: non-finite values")
    lo, hi = x.min(axis=0), x.max(axis=0)
    scaler = RBFSVR(np.zeros((1, x.shape[1])), np.zeros(1), 0.0, gamma, lo, hi)
    xs = scaler.scale(x)
    svr = SVR(kernel="rbf", C=C, epsilon=epsilon, gamma=gamma).fit(xs, y)
    return RBFSVR(
        svr.support_vectors_, svr.dual_coef_.ravel(), float(-svr.intercept_[0]), gamma, lo, hi,
        info={"scorer": "brisque_tomo", "features": FEATURE_SET,
              "svr": {"C": C, "epsilon": epsilon, "gamma": gamma}},
    )


def dataset_features(
    path: str | Path, *, batch: int = 32, progress: Any = None
) -> dict[str, np.ndarray]:
    """BRISQUE features of every image of an IQA dataset file (``iqa-dataset``), with its
    ``score``, ``level``, ``distortion`` and ``source`` columns."""
    import h5py

    from tomokit_iqa.dataset import DATASET_FORMAT

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"dataset: no such file {p}")
    with h5py.File(p, "r") as h5:
        if h5.attrs.get("format") != DATASET_FORMAT:
            raise InvalidInputError(f"dataset: {p} is not a tomokit-iqa dataset ({DATASET_FORMAT})")
        attrs = json.loads(h5.attrs.get("params", "{}"))
        dr = float(attrs.get("data_range", 1.0))
        images = h5["images"]
        n = images.shape[0]
        feats = np.empty((n, N_FEATURES))
        scorer = BRISQUETomo(data_range=dr, range_tolerance=1.0)  # distortions may overshoot
        for start in range(0, n, batch):
            block = np.clip(images[start : start + batch].astype(np.float64), 0.0, dr)
            feats[start : start + len(block)] = scorer.features(block)
            if progress is not None:
                progress(start + len(block), n)
        cols = {k: h5[k][()] for k in ("score", "level", "source")}
        cols["distortion"] = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in h5["distortion"][()]]
        )
        cols["source_id"] = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in h5["source_id"][()]]
        )
    return {"features": feats, **cols}


def validation_figures(pred: np.ndarray, cols: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """SROCC of predictions against the labels and against minus the level, per distortion
    type and for all distorted rows."""
    dist = cols["distortion"]
    out: dict[str, Any] = {}
    mask_all = dist != "reference"
    for name in ["all", *sorted(set(dist[mask_all].tolist()))]:
        m = mask_all if name == "all" else dist == name
        out[name] = {
            "n": int(m.sum()),
            "srocc_label": _spearman(pred[m], cols["score"][m]),
            "srocc_level": _spearman(pred[m], -cols["level"][m].astype(np.float64)),
        }
    return out


class FitParams(Params):
    """How ``brisque_fit`` trains ``brisque_tomo``."""

    dataset: str = Field(..., description="IQA dataset file (HDF5 from iqa-dataset).")
    output: str = Field(..., description="Model file to write (.npz; a .json sidecar beside).")
    C: float = Field(256.0, gt=0, allow_inf_nan=False, description="SVR cost.")
    epsilon: float = Field(0.3, ge=0, allow_inf_nan=False, description="SVR epsilon tube.")
    gamma: float = Field(0.05, gt=0, allow_inf_nan=False, description="RBF gamma (LIVE: 0.05).")
    validation_sources: Sequence[str] = Field(
        (), description="source_id values held out for validation (none: the last 20%)."
    )
    refit_all: bool = Field(False, description="Refit on all rows after validating.")


class BRISQUEFit(Task):
    """Pipeline task: retrain the ``brisque_tomo`` SVR from an IQA dataset file.

    Holds out whole references (never crops of a training reference) for the validation
    SROCC in the model's sidecar; ``refit_all`` then refits on everything.
    """

    Params = FitParams
    input_names: ClassVar[tuple[str, ...]] = ()

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, FitParams)
        return fit_from_dataset(
            p.dataset, p.output, C=p.C, epsilon=p.epsilon, gamma=p.gamma,
            validation_sources=tuple(p.validation_sources), refit_all=p.refit_all,
        )


def fit_from_dataset(
    dataset: str | Path,
    output: str | Path,
    *,
    C: float = 256.0,
    epsilon: float = 0.3,
    gamma: float = 0.05,
    validation_sources: Sequence[str] = (),
    info: Mapping[str, Any] | None = None,
    cols: Mapping[str, np.ndarray] | None = None,
    refit_all: bool = False,
) -> dict[str, Any]:
    """Features of ``dataset``, a fit on the training references validated on the
    held-out ones, written to ``output`` (.npz + .json); ``refit_all`` refits on every
    row before writing (the held-out figures then describe the first fit only). Returns
    the sidecar's figures."""
    t0 = time.perf_counter()
    data = dict(cols) if cols is not None else dataset_features(dataset)
    sources = np.asarray(data["source_id"])
    unique = list(dict.fromkeys(sources.tolist()))
    held = list(validation_sources) or unique[len(unique) - max(1, len(unique) // 5):]
    unknown = set(held) - set(unique)
    if unknown:
        raise InvalidInputError(f"validation_sources: {sorted(unknown)} not in the dataset")
    if len(held) >= len(unique):
        raise InvalidInputError("validation_sources: keep at least one reference for training")
    val = np.isin(sources, held)
    x, y = data["features"], np.asarray(data["score"], dtype=np.float64)
    trial = fit_brisque_svr(x[~val], y[~val], C=C, epsilon=epsilon, gamma=gamma)
    pv = trial.predict(x[val])
    figures = validation_figures(pv, {k: np.asarray(v)[val] for k, v in data.items()})
    final = fit_brisque_svr(x, y, C=C, epsilon=epsilon, gamma=gamma) if refit_all else trial
    meta = {
        "validation": {"held_out_sources": held, "n_train": int((~val).sum()),
                       "n_validation": int(val.sum()), "figures": figures,
                       "refit_on_all": refit_all},
        "data": {"dataset": Path(dataset).name, "n_rows": len(y), "n_references": len(unique),
                 "references": unique},
        "target": "generated label (1..5, higher is better)",
        "fit_seconds": round(time.perf_counter() - t0, 2),
        **dict(info or {}),
    }
    final.save(output, **meta)
    return meta
