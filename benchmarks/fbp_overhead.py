"""FBP through tomokit vs a direct ASTRA call (overhead target <= 1.05) vs scikit-image.

One 512x512 Shepp-Logan phantom, a 720-angle (180 degrees) x 512-detector parallel-beam
sinogram. Each contestant reconstructs the same sinogram with a ram-lak filter; median
wall time of ``--repeats`` runs (after one warm-up), tomokit and ASTRA interleaved. The direct ASTRA call builds the
same geometry, projector and algorithm and frees them, as any careful caller must.

    python benchmarks/fbp_overhead.py [--repeats 7] [--size 512] [--angles 720]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def timed(fns: list[Callable[[], np.ndarray]], repeats: int) -> list[tuple[float, np.ndarray]]:
    """Median time of each function; runs are interleaved (a, b, a, b, ...) so that a
    change in machine load affects all contestants alike."""
    outs = [fn() for fn in fns]  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - t0)
    return [(statistics.median(t), o) for t, o in zip(times, outs, strict=True)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--angles", type=int, default=720)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--skimage-repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import astra
    from skimage.data import shepp_logan_phantom
    from skimage.transform import iradon, resize

    import tomokit
    from tomokit_recon import reconstruction_metrics, simulate_sinogram

    n = args.size
    truth = np.clip(resize(shepp_logan_phantom(), (n, n), anti_aliasing=True), 0, 1)
    truth = truth.astype(np.float32)
    sino = simulate_sinogram(truth, n_angles=args.angles)
    data = np.ascontiguousarray(sino.data)
    angles = sino.angles

    fbp = tomokit.load("reconstructor", "fbp", filter="ram-lak", projector="linear")

    def via_tomokit() -> np.ndarray:
        return fbp.reconstruct(sino)

    def direct_astra() -> np.ndarray:
        vg = astra.create_vol_geom(n, n)
        pg = astra.create_proj_geom("parallel", 1.0, data.shape[1], angles)
        pid = astra.create_projector("linear", pg, vg)
        sid = astra.data2d.create("-sino", pg, data)
        rid = astra.data2d.create("-vol", vg, 0.0)
        cfg = astra.astra_dict("FBP")
        cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid,
                   FilterType="ram-lak")
        aid = astra.algorithm.create(cfg)
        try:
            astra.algorithm.run(aid)
            return astra.data2d.get(rid)
        finally:
            astra.algorithm.delete(aid)
            astra.data2d.delete([sid, rid])
            astra.projector.delete(pid)

    # scikit-image: the sinogram is (detectors, angles) with angles in degrees; its angle
    # convention differs from ASTRA's by a rotation, undone below only for the metrics.
    sk_sino = data.T.astype(np.float64)
    sk_theta = np.rad2deg(angles)

    def via_skimage() -> np.ndarray:
        return iradon(sk_sino, theta=sk_theta, filter_name="ramp", output_size=n, circle=True)

    (t_tk, rec_tk), (t_as, rec_as) = timed([via_tomokit, direct_astra], args.repeats)
    ((t_sk, rec_sk),) = timed([via_skimage], args.skimage_repeats)
    assert np.array_equal(rec_tk, rec_as), "tomokit and ASTRA FBP differ"
    # Orient scikit-image's output like the phantom by the best of the 8 flips/rotations.
    candidates = [np.rot90(r, k) for r in (rec_sk, rec_sk[::-1]) for k in range(4)]
    rec_sk = min(candidates, key=lambda r: float(np.mean((r - truth) ** 2)))

    print(f"FBP (ram-lak), {n}x{n} image, {args.angles} angles x {data.shape[1]} detectors; "
          f"median of {args.repeats} (scikit-image: {args.skimage_repeats}) runs")
    print(f"{'contestant':<28}{'median s':>10}{'vs ASTRA':>10}{'SSIM':>8}{'PSNR':>8}")
    for label, t, rec in (("tomokit fbp", t_tk, rec_tk), ("ASTRA direct (peer)", t_as, rec_as),
                          ("scikit-image iradon", t_sk, rec_sk)):
        m = reconstruction_metrics(truth, rec.astype(np.float32))
        print(f"{label:<28}{t:>10.4f}{t / t_as:>10.3f}{m['ssim']:>8.4f}{m['psnr']:>8.2f}")
    ratio = t_tk / t_as
    print(f"overhead ratio tomokit / ASTRA = {ratio:.3f} (target <= 1.05: "
          f"{'met' if ratio <= 1.05 else 'NOT met'}); scikit-image is {t_sk / t_tk:.1f}x slower "
          "than tomokit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
