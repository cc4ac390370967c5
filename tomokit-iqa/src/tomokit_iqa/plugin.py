"""Entry point of tomokit-iqa: component specs only, no heavy imports."""

from __future__ import annotations

from importlib import resources

from tomokit import CommandSpec, ComponentSpec, hookimpl
from tomokit.specs import ModelSpec

#: Where the shipped TIQA model lands (python -m tomokit_iqa.recipes.tiqa writes it).
TIQA_MODEL = "data/tiqa.keras"

_OBS = "tomokit_iqa.observers"


@hookimpl
def tomokit_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("distortion", "blur", "tomokit_iqa.distortions:GaussianBlur",
                      "Gaussian blur, TIQA levels 1..5 (sigma 1.2 to 33.2)"),
        ComponentSpec("distortion", "noise", "tomokit_iqa.distortions:GaussianNoise",
                      "Additive zero-mean Gaussian noise, TIQA levels 1..5"),
        ComponentSpec("distortion", "ring", "tomokit_iqa.distortions:RingArtifact",
                      "Concentric ring artefacts around the rotation centre, TIQA levels 1..5"),
        ComponentSpec("observer", "ssim", f"{_OBS}:SSIM",
                      "Structural similarity, as MATLAB ssim.m (with automatic downsampling)"),
        ComponentSpec("observer", "ms_ssim", f"{_OBS}:MSSSIM",
                      "Multi-scale SSIM, 5 scales, standard weights"),
        ComponentSpec("observer", "fsim", f"{_OBS}:FSIM",
                      "Feature similarity (FSIM; FSIMc for RGB)"),
        ComponentSpec("observer", "gmsd", f"{_OBS}:GMSD",
                      "Gradient magnitude similarity deviation (lower is better)"),
        ComponentSpec("observer", "mdsi", f"{_OBS}:MDSI",
                      "Mean deviation similarity index (lower is better)"),
        ComponentSpec("observer", "psnr", f"{_OBS}:PSNR", "Peak signal-to-noise ratio (dB)"),
        ComponentSpec("observer", "mse", f"{_OBS}:MSE", "Mean squared error (lower is better)"),
        ComponentSpec("task", "iqa_dataset", "tomokit_iqa.dataset:GenerateDataset",
                      "Distort reference slices at every level and label them by observers"),
        ComponentSpec("task", "iqa_evaluate", "tomokit_iqa.evaluation:Evaluate",
                      "PLCC/SROCC/KRCC/RMSE of scores against labels, per distortion type"),
        ComponentSpec("scorer", "brisque", "tomokit_iqa.brisque:BRISQUE",
                      "BRISQUE with the LIVE model, as the MATLAB release (lower is better)"),
        ComponentSpec("scorer", "brisque_tomo", "tomokit_iqa.brisque:BRISQUETomo",
                      "BRISQUE features, SVR retrained on tomography labels (1..5, higher is better)"),
        ComponentSpec("scorer", "tiqa", "tomokit_iqa.tiqa:TIQA",
                      "TIQA: self-supervised rank + regress CNN (EfficientNet-B0), higher is better",
                      extras=("tf",)),
        ComponentSpec("scorer", "rankiqa", "tomokit_iqa.tiqa:RankIQA",
                      "RankIQA baseline: the same two stages with VGG16", extras=("tf",)),
        ComponentSpec("task", "brisque_fit", "tomokit_iqa.brisque:BRISQUEFit",
                      "Retrain the brisque_tomo SVR from an IQA dataset file"),
    ]


@hookimpl
def tomokit_commands() -> list[CommandSpec]:
    return [
        CommandSpec("iqa-dataset", "tomokit_iqa.commands:iqa_dataset",
                    "Generate a distorted, auto-labelled IQA dataset"),
        CommandSpec("iqa-evaluate", "tomokit_iqa.commands:iqa_evaluate",
                    "Evaluate scores against labels (PLCC, SROCC, KRCC, RMSE)"),
        CommandSpec("score", "tomokit_iqa.score_command:score",
                    "Score images, folders and volumes with a no-reference scorer"),
    ]


@hookimpl
def tomokit_models() -> list[ModelSpec]:
    """The shipped TIQA model, once trained into the package by its recipe."""
    if not resources.files("tomokit_iqa").joinpath(*TIQA_MODEL.split("/")).is_file():
        return []
    return [ModelSpec("tomokit-iqa/tiqa", f"tomokit_iqa:{TIQA_MODEL}",
                      "TIQA (EfficientNet-B0) trained by tomokit's recipe on battery and "
                      "phantom slices")]
