"""An RBF epsilon-SVR evaluated in numpy, with libsvm's ``svm-scale`` feature scaling.

BRISQUE's score is a libsvm epsilon-SVR with an RBF kernel; predicting needs only the
support vectors, their coefficients, ``rho`` and ``gamma``:
``f(x) = sum_i coef_i * exp(-gamma * |x - sv_i|^2) - rho``. This module reads libsvm's
text files (``svm-train`` model, ``svm-scale -s`` range file) and writes/reads its own
``.npz`` + JSON form (no pickle), so the LIVE model and models retrained with
scikit-learn run through the same code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tomokit import InvalidInputError

__all__ = ["RBFSVR", "read_libsvm_model", "read_libsvm_range"]

SVR_FORMAT = "tomokit-iqa-svr/1"


def read_libsvm_model(path: str | Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(support_vectors, coefs, rho, gamma)`` of a libsvm RBF epsilon-SVR model file."""
    p = Path(path)
    header: dict[str, str] = {}
    coefs: list[float] = []
    rows: list[dict[int, float]] = []
    with p.open(encoding="ascii") as fh:
        for line in fh:
            if line.strip() == "SV":
                break
            key, _, value = line.strip().partition(" ")
            header[key] = value
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            coefs.append(float(parts[0]))
            rows.append({int(k): float(v) for k, v in (t.split(":") for t in parts[1:])})
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise InvalidInputError(
            f"{p}: expected an RBF epsilon-SVR libsvm model, got svm_type "
            f"{header.get('svm_type')!r}, kernel_type {header.get('kernel_type')!r}"
        )
    n_features = max(max(r) for r in rows if r)
    sv = np.zeros((len(rows), n_features), dtype=np.float64)
    for i, r in enumerate(rows):
        for k, v in r.items():
            sv[i, k - 1] = v
    if int(header.get("total_sv", len(rows))) != len(rows):
        raise InvalidInputError(f"{p}: total_sv {header['total_sv']} but {len(rows)} vectors")
    return sv, np.asarray(coefs), float(header["rho"]), float(header["gamma"])


def read_libsvm_range(path: str | Path) -> tuple[float, float, np.ndarray, np.ndarray]:
    """``(lower, upper, feature_min, feature_max)`` of an ``svm-scale -s`` range file."""
    lines = [ln.split() for ln in Path(path).read_text(encoding="ascii").splitlines() if ln.strip()]
    if not lines or lines[0] != ["x"]:
        raise InvalidInputError(f"{path}: not an svm-scale range file (first line must be 'x')")
    lower, upper = float(lines[1][0]), float(lines[1][1])
    entries = {int(r[0]): (float(r[1]), float(r[2])) for r in lines[2:]}
    n = max(entries)
    lo = np.array([entries.get(i, (0.0, 0.0))[0] for i in range(1, n + 1)])
    hi = np.array([entries.get(i, (0.0, 0.0))[1] for i in range(1, n + 1)])
    return lower, upper, lo, hi


def _round_sig(x: np.ndarray, digits: int) -> np.ndarray:
    """C ``printf("%.<digits>g")`` then ``atof``: round to ``digits`` significant digits."""
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(x, dtype=np.float64).ravel()]).reshape(
        np.shape(x)
    )


@dataclass
class RBFSVR:
    """A scaled RBF epsilon-SVR: ``svm-scale`` to ``[lower, upper]``, then the kernel sum.

    ``text_io=True`` reproduces the text round trips of the MATLAB BRISQUE release: the
    features are written with ``%f`` (6 decimals) and ``svm-scale`` writes the scaled values
    with ``%g`` (6 significant digits) before ``svm-predict`` reads them.
    """

    support_vectors: np.ndarray  # (n_sv, n_features)
    coefs: np.ndarray  # (n_sv,)
    rho: float
    gamma: float
    feature_min: np.ndarray
    feature_max: np.ndarray
    lower: float = -1.0
    upper: float = 1.0
    text_io: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.support_vectors = np.asarray(self.support_vectors, dtype=np.float64)
        self.coefs = np.asarray(self.coefs, dtype=np.float64).ravel()
        self.feature_min = np.asarray(self.feature_min, dtype=np.float64).ravel()
        self.feature_max = np.asarray(self.feature_max, dtype=np.float64).ravel()
        n_sv, n_f = self.support_vectors.shape
        if self.coefs.shape != (n_sv,) or self.feature_min.shape != (n_f,) or (
            self.feature_max.shape != (n_f,)
        ):
            raise InvalidInputError(
                f"SVR model: {n_sv} support vectors of {n_f} features but {self.coefs.size} "
                f"coefficients and {self.feature_min.size}/{self.feature_max.size} ranges"
            )
        if not (math.isfinite(self.gamma) and self.gamma > 0 and math.isfinite(self.rho)):
            raise InvalidInputError(f"SVR model: gamma {self.gamma} / rho {self.rho} invalid")
        self._sv_sq = np.einsum("ij,ij->i", self.support_vectors, self.support_vectors)

    @property
    def n_features(self) -> int:
        return int(self.support_vectors.shape[1])

    @classmethod
    def from_libsvm(cls, model: str | Path, ranges: str | Path, *, text_io: bool = False) -> RBFSVR:
        sv, coefs, rho, gamma = read_libsvm_model(model)
        lower, upper, lo, hi = read_libsvm_range(ranges)
        if lo.size < sv.shape[1]:
            raise InvalidInputError(f"{ranges}: {lo.size} ranges for {sv.shape[1]} features")
        return cls(sv, coefs, rho, gamma, lo, hi, lower, upper, text_io=text_io)

    def scale(self, features: np.ndarray) -> np.ndarray:
        """``svm-scale -r``: map each feature's ``[min, max]`` to ``[lower, upper]``
        (no clipping; a feature whose min equals its max is left out, i.e. zero)."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if f.shape[1] != self.n_features:
            raise InvalidInputError(
                f"features: expected {self.n_features} per image, got {f.shape[1]}"
            )
        if self.text_io:
            f = np.round(f, 6)
        span = self.feature_max - self.feature_min
        ok = span != 0
        out = np.zeros_like(f)
        out[:, ok] = self.lower + (self.upper - self.lower) * (f[:, ok] - self.feature_min[ok]) / span[ok]
        out[:, ok] = np.where(f[:, ok] == self.feature_min[ok], self.lower, out[:, ok])
        out[:, ok] = np.where(f[:, ok] == self.feature_max[ok], self.upper, out[:, ok])
        if self.text_io:
            out = _round_sig(out, 6)
        return out

    def decision(self, scaled: np.ndarray) -> np.ndarray:
        """The kernel sum for already scaled features ``(N, n_features)``."""
        x = np.atleast_2d(np.asarray(scaled, dtype=np.float64))
        d2 = np.einsum("ij,ij->i", x, x)[:, None] + self._sv_sq[None, :] - 2.0 * x @ self.support_vectors.T
        np.maximum(d2, 0.0, out=d2)
        return np.asarray(np.exp(-self.gamma * d2) @ self.coefs - self.rho)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """One value per row of raw (unscaled) features."""
        return self.decision(self.scale(features))

    # ------------------------------------------------------------------ files (no pickle)
    def save(self, path: str | Path, **info: Any) -> Path:
        """Write ``path`` (.npz of arrays, no object arrays) and ``path.json`` (the rest)."""
        p = Path(path)
        if p.suffix != ".npz":
            raise InvalidInputError(f"path: an SVR model file ends in .npz, got {p.name}")
        p.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            p, support_vectors=self.support_vectors, coefs=self.coefs,
            feature_min=self.feature_min, feature_max=self.feature_max,
        )
        meta = {
            "format": SVR_FORMAT, "rho": self.rho, "gamma": self.gamma, "lower": self.lower,
            "upper": self.upper, "text_io": self.text_io, "n_support": int(self.coefs.size),
            "n_features": self.n_features, **{**self.info, **info},
        }
        p.with_suffix(".json").write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n")
        return p

    @classmethod
    def load(cls, path: str | Path) -> RBFSVR:
        p = Path(path)
        side = p.with_suffix(".json")
        if not p.is_file() or not side.is_file():
            raise InvalidInputError(f"SVR model: need {p} and its sidecar {side.name}")
        meta = json.loads(side.read_text())
        if meta.get("format") != SVR_FORMAT:
            raise InvalidInputError(
                f"{side}: not a tomokit-iqa SVR model (format {meta.get('format')!r}, "
                f"expected {SVR_FORMAT!r}); is it a model of another scorer?"
            )
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("support_vectors", "coefs", "feature_min", "feature_max")}
        known = {"format", "rho", "gamma", "lower", "upper", "text_io", "n_support", "n_features"}
        return cls(
            arrays["support_vectors"], arrays["coefs"], float(meta["rho"]), float(meta["gamma"]),
            arrays["feature_min"], arrays["feature_max"], float(meta["lower"]),
            float(meta["upper"]), text_io=bool(meta["text_io"]),
            info={k: v for k, v in meta.items() if k not in known},
        )
