"""Reconstruction quality against ground truth inside the reconstruction circle.

MAE, MSE and PSNR come from :mod:`tomokit.metrics`. SSIM is scikit-image's
``structural_similarity`` (Wang et al. 2004: 7x7 uniform window, K1 = 0.01, K2 = 0.03,
explicit ``data_range``) of the two images set to 0 outside the circle, its SSIM map
averaged over the pixels inside the circle (less scikit-image's 3-pixel border crop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from tomokit import InvalidInputError, Params, Task
from tomokit.components import check_image
from tomokit.metrics import circle_mask, mae, mse, psnr

__all__ = ["ReconMetrics", "reconstruction_metrics"]

METRICS: tuple[str, ...] = ("mae", "mse", "ssim", "psnr")


def reconstruction_metrics(
    reference: Any,
    reconstruction: Any,
    *,
    data_range: float = 1.0,
    circle: bool = True,
) -> dict[str, float]:
    """``{"mae", "mse", "ssim", "psnr"}`` of ``reconstruction`` against ``reference``.

    With ``circle=True`` (default) only pixels inside the inscribed reconstruction circle
    count, as in Dong et al. (2023), Tables 1 and 2.
    """
    ref = check_image(reference, name="reference", ndim=(2,)).astype(np.float64)
    rec = check_image(reconstruction, name="reconstruction", ndim=(2,)).astype(np.float64)
    if ref.shape != rec.shape:
        raise InvalidInputError(
            f"reference shape {ref.shape} and reconstruction shape {rec.shape} differ"
        )
    if not data_range > 0:
        raise InvalidInputError(f"data_range must be > 0, got {data_range}")
    mask = circle_mask(ref.shape) if circle else np.ones(ref.shape, bool)
    from skimage.metrics import structural_similarity

    if min(ref.shape) < 7:
        raise InvalidInputError(f"images must be at least 7x7 for SSIM, got {ref.shape}")
    # Outside the circle both images are set to 0, so values there cannot leak into the
    # SSIM windows at its edge; scikit-image's border crop ((7 - 1) / 2 pixels) is kept,
    # so that with circle=False this is exactly its mean SSIM.
    _, ssim_map = structural_similarity(
        np.where(mask, ref, 0.0), np.where(mask, rec, 0.0), data_range=data_range, full=True
    )
    pad = 3
    inner = np.zeros_like(mask)
    inner[pad:-pad, pad:-pad] = True
    return {
        "mae": mae(ref, rec, mask=mask),
        "mse": mse(ref, rec, mask=mask),
        "ssim": float(np.mean(ssim_map[mask & inner])),
        "psnr": psnr(ref, rec, data_range=data_range, mask=mask),
    }


class ReconMetricsParams(Params):
    data_range: float = Field(1.0, gt=0, description="Data range for SSIM and PSNR.")
    circle: bool = Field(True, description="Only count pixels inside the reconstruction circle.")


class ReconMetrics(Task):
    """Compare reconstructions with ground truth: MAE, MSE, SSIM, PSNR per method.

    Inputs: ``reference`` (the ground-truth image) and ``reconstructions``, any number
    (``rec[*]`` for every candidate of a sweep, or a list of step ids). Outputs one array
    per metric (one value per reconstruction, in input order), ``names`` (the candidate
    labels or step ids), and ``table``: a printable text table.
    """

    summary: ClassVar[str] = "MAE/MSE/SSIM/PSNR of reconstructions vs ground truth (circle)"
    Params = ReconMetricsParams
    input_names: ClassVar[tuple[str, ...]] = ("reference", "reconstructions")
    collection_inputs: ClassVar[tuple[str, ...]] = ("reconstructions",)

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, ReconMetricsParams)
        if "reference" not in inputs:
            raise InvalidInputError("recon_metrics needs a 'reference' input (the ground truth)")
        ref = np.asarray(inputs["reference"])
        if ref.ndim == 3 and ref.shape[0] == 1:
            ref = ref[0]
        recs = inputs.get("reconstructions")
        if not isinstance(recs, Mapping) or not recs:
            raise InvalidInputError(
                "recon_metrics needs 'reconstructions': one or more (e.g. rec[*] of a sweep, "
                "or a list of step ids)"
            )
        names = list(recs)
        rows = {n: reconstruction_metrics(ref, recs[n], data_range=p.data_range,
                                          circle=p.circle) for n in names}
        out: dict[str, Any] = {
            m: np.array([rows[n][m] for n in names], dtype=np.float64) for m in METRICS
        }
        out["names"] = np.array(names)
        width = max(8, *(len(n) + 2 for n in names))
        lines = [f"{'input':<{width}}" + "".join(f"{m.upper():>12}" for m in METRICS)]
        for n in names:
            lines.append(f"{n:<{width}}" + "".join(f"{rows[n][m]:>12.5g}" for m in METRICS))
        out["table"] = "\n".join(lines)
        return out
