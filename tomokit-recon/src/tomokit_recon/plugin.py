"""Entry point of tomokit-recon: component specs only, no heavy imports."""

from __future__ import annotations

from tomokit import ComponentSpec, hookimpl

_C = "tomokit_recon.classical"
_A = "tomokit_recon.acquisition"
_S = "tomokit_recon.sd2i"
_F = "tomokit_recon.filters"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("reconstructor", "fbp", f"{_C}:FBP",
                      "Filtered back-projection (ASTRA; ram-lak, shepp-logan, cosine, hamming, hann)"),
        ComponentSpec("reconstructor", "sirt", f"{_C}:SIRT", "SIRT (ASTRA)"),
        ComponentSpec("reconstructor", "sart", f"{_C}:SART", "SART (ASTRA), sweeps over all angles"),
        ComponentSpec("reconstructor", "cgls", f"{_C}:CGLS", "CGLS (ASTRA)"),
        ComponentSpec("reconstructor", "sd2i", f"{_S}:SD2I",
                      "Self-supervised SD2I, no upsampling (Dong et al. 2023)", extras=("tf",)),
        ComponentSpec("reconstructor", "sd2iu", f"{_S}:SD2Iu",
                      "Self-supervised SD2I with upsampling (Dong et al. 2023)", extras=("tf",)),
        ComponentSpec("reconstructor", "cnn_reconstruct", "tomokit_recon.cnn:CNNReconstruct",
                      "Supervised CNN sinogram -> image (AI4SD report), with an OOD flag",
                      extras=("tf",)),
        ComponentSpec("reconstructor", "ganrec", "tomokit_recon.ganrec:GANrec",
                      "GANrec: GAN fitted per sinogram (Yang et al. 2020)", extras=("tf",)),
        ComponentSpec("projector", "forward_project", f"{_A}:ForwardProject",
                      "Image -> parallel-beam sinogram (ASTRA forward projection)"),
        ComponentSpec("distortion", "photon_noise", f"{_A}:PhotonNoise",
                      "Poisson photon noise, I0 = 1e5 .. 1e3 (sinogram)"),
        ComponentSpec("distortion", "detector_gain", f"{_A}:DetectorGain",
                      "Per-detector gain errors -> rings (sinogram)"),
        ComponentSpec("distortion", "dead_pixels", f"{_A}:DeadPixels",
                      "Dead or hot detector pixels (sinogram)"),
        ComponentSpec("distortion", "undersample", f"{_A}:Undersample",
                      "Keep every n-th projection angle (sinogram)"),
        ComponentSpec("distortion", "detector_blur", f"{_A}:DetectorBlur",
                      "Gaussian detector blur along each projection (sinogram)"),
        ComponentSpec("task", "recon_metrics", "tomokit_recon.evaluation:ReconMetrics",
                      "MAE/MSE/SSIM/PSNR of reconstructions vs ground truth in the circle"),
        # filters: image domain
        ComponentSpec("filter", "median", f"{_F}:Median", "Median filter (scipy.ndimage)"),
        ComponentSpec("filter", "gaussian", f"{_F}:Gaussian", "Gaussian smoothing (scipy.ndimage)"),
        ComponentSpec("filter", "bilateral", f"{_F}:Bilateral",
                      "Bilateral edge-preserving smoothing (scikit-image)"),
        ComponentSpec("filter", "nl_means", f"{_F}:NLMeans", "Non-local means denoising (scikit-image)"),
        ComponentSpec("filter", "tv_denoise", f"{_F}:TVDenoise",
                      "Total-variation denoising, Chambolle (scikit-image)"),
        ComponentSpec("filter", "unsharp_mask", f"{_F}:UnsharpMask", "Unsharp-mask sharpening (scikit-image)"),
        ComponentSpec("filter", "clahe", f"{_F}:CLAHE",
                      "Contrast-limited adaptive histogram equalisation (scikit-image)"),
        ComponentSpec("filter", "equalize_hist", f"{_F}:EqualizeHist",
                      "Global histogram equalisation (scikit-image)"),
        ComponentSpec("filter", "ring_removal_polar", f"{_F}:RingRemovalPolar",
                      "Ring removal in polar coordinates about the rotation centre"),
        # filters: sinogram domain
        ComponentSpec("filter", "stripe_sorting", f"{_F}:StripeSorting",
                      "Stripe (ring) removal by sorting + median, Vo 2018 (algotom; sinogram)"),
        ComponentSpec("filter", "stripe_fitting", f"{_F}:StripeFitting",
                      "Stripe (ring) removal by polynomial fitting, Vo 2018 (algotom; sinogram)"),
        ComponentSpec("filter", "stripe_wavelet_fft", f"{_F}:StripeWaveletFFT",
                      "Stripe (ring) removal by wavelet-FFT, Muench 2009 (algotom; sinogram)"),
    ]
