"""Generate a distorted, auto-labelled IQA dataset (the TIQA fine-tuning data).

Each reference slice is resized so that its shorter side is ``resize`` pixels, a random
``crop`` x ``crop`` patch is taken (255 and 224 in TIQA), every distortion is applied at
every level and the distorted patches are labelled by :mod:`tomokit_iqa.labels`. The
undistorted patch is kept as a row of its own (distortion ``"reference"``, level 0) with
the reference's score ``S``.

:func:`generate_dataset` yields one block of rows per reference so that large inputs can be
streamed into :func:`write_dataset` (one HDF5 file, written to a temporary name and renamed
when complete, plus an optional CSV export).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from tomokit import InvalidInputError, Params, Task
from tomokit.components import check_image
from tomokit_iqa.labels import (
    DEFAULT_OBSERVERS,
    Rule,
    compare_levels,
    observer_scores,
    rule_for,
)

__all__ = [
    "DATASET_FORMAT",
    "DatasetParams",
    "GenerateDataset",
    "ReferenceRows",
    "generate_dataset",
    "prepare_reference",
    "read_dataset",
    "read_score_table",
    "write_dataset",
]

DATASET_FORMAT = "tomokit-iqa-dataset/1"
REFERENCE = "reference"


class DatasetParams(Params):
    """How a dataset is generated (the same for the task, the command and the Python API)."""

    distortions: tuple[str, ...] = Field(
        ("blur", "noise", "ring"), min_length=1, description="Registered distortion names."
    )
    levels: tuple[int, ...] = Field(
        (1, 2, 3, 4, 5),
        min_length=1,
        description="Levels to generate, mildest first; labels normalise by the last one.",
    )
    observers: tuple[str, ...] = Field(
        DEFAULT_OBSERVERS, min_length=1, description="Registered observers that label the data."
    )
    resize: int | None = Field(
        255, ge=8, description="Shorter side after resizing (none: keep the size)."
    )
    crop: int | None = Field(
        224, ge=8, description="Side of the random square crop (none: keep the whole image)."
    )
    data_range: float = Field(1.0, gt=0, description="Images lie in [0, data_range].")
    reference_score: float = Field(
        5.0, ge=1, description="Score S of a reference without a human score (1..5 scale)."
    )
    rounding: bool = Field(True, description="Round each observer's score to an integer.")
    include_reference: bool = Field(True, description="Keep the undistorted crop as a row.")
    distortion_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Extra params per distortion, e.g. {ring: {scale_to_size: true}}.",
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= k <= 5 for k in v) or list(v) != sorted(set(v)):
            raise ValueError("levels must be distinct integers 1..5 in increasing order")
        return v


def _resize_shorter(image: np.ndarray, side: int) -> np.ndarray:
    from skimage.transform import resize

    h, w = image.shape
    scale = side / min(h, w)
    if scale == 1:
        return image
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    out = resize(image, shape, order=1, mode="edge", anti_aliasing=scale < 1, preserve_range=True)
    return np.asarray(out, dtype=image.dtype)


def prepare_reference(
    image: np.ndarray,
    *,
    resize: int | None = 255,
    crop: int | None = 224,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize the shorter side to ``resize`` (anti-aliased when shrinking) and take a random
    ``crop`` x ``crop`` patch. Returns the patch and its top-left corner."""
    img = check_image(image, name="image", ndim=(2,))
    img = img.astype(np.float32 if img.dtype == np.float32 else np.float64, copy=True)
    if resize is not None:
        img = _resize_shorter(img, resize)
    if crop is None:
        return img, (0, 0)
    h, w = img.shape
    if crop > min(h, w):
        raise InvalidInputError(
            f"crop: {crop} px does not fit an image of {h}x{w} (after resizing); "
            "pass a smaller crop or a larger resize"
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    top = int(gen.integers(0, h - crop + 1))
    left = int(gen.integers(0, w - crop + 1))
    return img[top : top + crop, left : left + crop].copy(), (top, left)


@dataclass
class ReferenceRows:
    """The rows generated from one reference image."""

    source: int
    source_id: str
    images: np.ndarray  # (M, h, w) float32
    distortion: list[str]
    level: np.ndarray  # (M,) int
    score: np.ndarray  # (M,) float64
    raw: dict[str, np.ndarray]  # observer -> (M,)
    observer_scores: dict[str, np.ndarray]  # observer -> (M,)
    reference_score: float
    corner: tuple[int, int]


class _Generator:
    def __init__(self, params: DatasetParams) -> None:
        import tomokit

        self.params = params
        self.distortions: list[tuple[str, Any]] = []
        for name in params.distortions:
            extra = dict(params.distortion_params.get(name, {}))
            extra.setdefault("data_range", params.data_range)
            self.distortions.append((name, tomokit.load("distortion", name, **extra)))
        unknown = set(params.distortion_params) - set(params.distortions)
        if unknown:
            raise InvalidInputError(
                f"distortion_params: {', '.join(sorted(unknown))} not among distortions "
                f"{', '.join(params.distortions)}"
            )
        self.observers: list[tuple[str, Any]] = [
            (n, tomokit.load("observer", n, data_range=params.data_range))
            for n in params.observers
        ]
        self.rules: dict[str, Rule] = {
            n: rule_for(
                n,
                higher_is_better=bool(o.higher_is_better),
                value_range=(float(o.value_range[0]), float(o.value_range[1])),
            )
            for n, o in self.observers
        }

    def rows(
        self,
        image: np.ndarray,
        *,
        source: int,
        source_id: str,
        reference_score: float,
        rng: np.random.Generator,
    ) -> ReferenceRows:
        p = self.params
        ref, corner = prepare_reference(image, resize=p.resize, crop=p.crop, rng=rng)
        ref = ref.astype(np.float64)
        images: list[np.ndarray] = []
        names: list[str] = []
        levels: list[int] = []
        scores: list[float] = []
        raw: dict[str, list[float]] = {n: [] for n, _ in self.observers}
        obs_scores: dict[str, list[float]] = {n: [] for n, _ in self.observers}
        if p.include_reference:
            images.append(ref)
            names.append(REFERENCE)
            levels.append(0)
            scores.append(reference_score)
            for n, obs in self.observers:
                raw[n].append(float(obs.compare(ref, ref)))
                obs_scores[n].append(reference_score)
        for name, dist in self.distortions:
            seeds = rng.integers(0, 2**63 - 1, size=len(p.levels))
            stack = [
                np.asarray(dist.apply(ref, k, int(s)), dtype=np.float64)
                for k, s in zip(p.levels, seeds, strict=True)
            ]
            per_obs = {n: compare_levels(obs, ref, stack) for n, obs in self.observers}
            projected = {
                n: observer_scores(
                    v, rule=self.rules[n], reference_score=reference_score, rounding=p.rounding
                )
                for n, v in per_obs.items()
            }
            labels = np.mean(np.stack(list(projected.values())), axis=0)
            images.extend(stack)
            names.extend([name] * len(stack))
            levels.extend(p.levels)
            scores.extend(labels.tolist())
            for n in per_obs:
                raw[n].extend(per_obs[n].tolist())
                obs_scores[n].extend(projected[n].tolist())
        return ReferenceRows(
            source=source,
            source_id=source_id,
            images=np.stack(images).astype(np.float32),
            distortion=names,
            level=np.asarray(levels, dtype=np.int16),
            score=np.asarray(scores, dtype=np.float64),
            raw={n: np.asarray(v, dtype=np.float64) for n, v in raw.items()},
            observer_scores={n: np.asarray(v, dtype=np.float64) for n, v in obs_scores.items()},
            reference_score=reference_score,
            corner=corner,
        )


def generate_dataset(
    images: Iterable[np.ndarray],
    *,
    params: DatasetParams | Mapping[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    scores: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
) -> Iterator[ReferenceRows]:
    """Yield the labelled rows of every reference image, one :class:`ReferenceRows` each.

    ``scores`` gives human scores ``S``: a sequence aligned with ``images`` or a mapping
    from image id (with or without its file extension) to score; references without one
    get ``params.reference_score``.
    """
    p = params if isinstance(params, DatasetParams) else DatasetParams.model_validate(dict(params or {}))
    gen = _Generator(p)
    rand = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    for i, image in enumerate(images):
        sid = ids[i] if ids is not None else str(i)
        s = p.reference_score
        if isinstance(scores, Mapping):
            s = float(scores.get(sid, scores.get(Path(sid).stem, p.reference_score)))
        elif scores is not None:
            s = float(scores[i])
        if not np.isfinite(s) or s < 1:
            raise InvalidInputError(f"scores: image {sid!r} has score {s}; scores must be >= 1")
        yield gen.rows(image, source=i, source_id=sid, reference_score=s, rng=rand)


def _concat(blocks: list[ReferenceRows]) -> dict[str, Any]:
    if not blocks:
        raise InvalidInputError("images: no reference image given")
    out: dict[str, Any] = {
        "images": np.concatenate([b.images for b in blocks]),
        "distortion": np.array([d for b in blocks for d in b.distortion], dtype=str),
        "level": np.concatenate([b.level for b in blocks]),
        "score": np.concatenate([b.score for b in blocks]),
        "source": np.concatenate([np.full(len(b.level), b.source, np.int32) for b in blocks]),
    }
    for n in blocks[0].raw:
        out[f"raw_{n}"] = np.concatenate([b.raw[n] for b in blocks])
        out[f"score_{n}"] = np.concatenate([b.observer_scores[n] for b in blocks])
    return out


class GenerateDataset(Task):
    """Pipeline task: distort reference slices at every level and label them by observers.

    Inputs ``images`` (a 2-D slice or an ``(N, H, W)`` stack in ``[0, data_range]``) and
    optionally ``scores`` (one human score per slice). Outputs ``images``, ``distortion``
    (names; ``"reference"`` for the undistorted crop), ``level`` (0 for the reference),
    ``score`` (the generated label), ``source`` (index of the reference slice), and per
    observer ``raw_<name>`` (raw value) and ``score_<name>`` (its 1..5 score).
    """

    input_names: ClassVar[tuple[str, ...]] = ("images", "scores")
    optional_inputs: ClassVar[tuple[str, ...]] = ("scores",)
    Params = DatasetParams

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        if "images" not in inputs:
            raise InvalidInputError("iqa_dataset: input 'images' is required")
        stack = check_image(inputs["images"], name="images")
        if stack.ndim == 2:
            stack = stack[None]
        scores = inputs.get("scores")
        if scores is not None:
            scores = np.atleast_1d(np.asarray(scores, dtype=np.float64))
            if scores.shape != (len(stack),):
                raise InvalidInputError(
                    f"scores: expected one score per image ({len(stack)}), got shape {scores.shape}"
                )
        params = self.params
        assert isinstance(params, DatasetParams)
        blocks = list(generate_dataset(stack, params=params, scores=scores, rng=rng))
        return _concat(blocks)


# ----------------------------------------------------------------------------- files
def read_score_table(path: str | Path) -> dict[str, float]:
    """Read a CSV of human scores: an image id column and a score column.

    The header may name them (``image``/``id``/``name`` and ``score``/``mos``); otherwise the
    first two columns are used. Ids are matched with and without their file extension.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"scores file not found: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if not rows:
        raise InvalidInputError(f"{p}: no rows; expected 'image,score' lines")
    header = [c.strip().lower() for c in rows[0]]
    id_col, score_col, start = 0, 1, 0
    if not _is_number(rows[0][1] if len(rows[0]) > 1 else ""):
        start = 1
        id_col = next((header.index(k) for k in ("image", "id", "name", "file") if k in header), 0)
        score_col = next((header.index(k) for k in ("score", "mos") if k in header), 1)
    table: dict[str, float] = {}
    for lineno, row in enumerate(rows[start:], start=start + 1):
        if len(row) <= max(id_col, score_col) or not _is_number(row[score_col]):
            raise InvalidInputError(f"{p}:{lineno}: expected an image id and a numeric score")
        key = row[id_col].strip()
        table[key] = float(row[score_col])
        table.setdefault(Path(key).stem, float(row[score_col]))
    return table


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_dataset(
    blocks: Iterable[ReferenceRows],
    path: str | Path,
    *,
    csv_path: str | Path | None = None,
    params: DatasetParams | None = None,
    seed: int | None = None,
    overwrite: bool = False,
) -> int:
    """Stream ``blocks`` into one HDF5 file (temporary name, renamed when complete).

    Layout: ``images`` (N, h, w) float32, ``distortion`` (strings), ``level``, ``score``,
    ``source`` (index), ``source_id`` (strings), ``observers/<name>`` (raw values) and
    ``observer_scores/<name>``; attributes ``format``, ``seed``, ``params`` (JSON).
    Returns the number of rows. ``csv_path`` also writes every column but the images.
    """
    import h5py

    out = Path(path)
    if out.exists() and not overwrite:
        raise InvalidInputError(f"{out}: already exists; choose another name or overwrite")
    if out.is_dir():
        raise InvalidInputError(f"{out}: is a folder; give a file name ending in .h5")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    csv_rows: list[list[Any]] = []
    n = 0
    names: list[str] = []
    try:
        with h5py.File(tmp, "w") as h5:
            text = h5py.string_dtype()
            for block in blocks:
                m = len(block.level)
                if n == 0:
                    names = list(block.raw)
                    h, w = block.images.shape[1:]
                    h5.create_dataset(
                        "images", shape=(0, h, w), maxshape=(None, h, w), dtype=np.float32,
                        chunks=(1, h, w), compression="gzip",
                    )
                    for key, dt in (("level", np.int16), ("score", np.float64),
                                    ("source", np.int32), ("reference_score", np.float64)):
                        h5.create_dataset(key, shape=(0,), maxshape=(None,), dtype=dt, chunks=True)
                    for key in ("distortion", "source_id"):
                        h5.create_dataset(key, shape=(0,), maxshape=(None,), dtype=text, chunks=True)
                    for group in ("observers", "observer_scores"):
                        g = h5.create_group(group)
                        for name in names:
                            g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=np.float64,
                                             chunks=True)
                elif block.images.shape[1:] != h5["images"].shape[1:]:
                    raise InvalidInputError(
                        f"image {block.source_id!r}: crop shape {block.images.shape[1:]} differs "
                        f"from the first image's {h5['images'].shape[1:]}; set a crop size"
                    )
                columns: dict[str, Any] = {
                    "images": block.images,
                    "level": block.level,
                    "score": block.score,
                    "source": np.full(m, block.source, np.int32),
                    "reference_score": np.full(m, block.reference_score),
                    "distortion": np.array(block.distortion, dtype=object),
                    "source_id": np.array([block.source_id] * m, dtype=object),
                }
                columns.update({f"observers/{k}": v for k, v in block.raw.items()})
                columns.update({f"observer_scores/{k}": v for k, v in block.observer_scores.items()})
                for key, value in columns.items():
                    ds = h5[key]
                    ds.resize(n + m, axis=0)
                    ds[n : n + m] = value
                if csv_path is not None:
                    for j in range(m):
                        csv_rows.append(
                            [n + j, block.source, block.source_id, block.distortion[j],
                             int(block.level[j]), float(block.score[j])]
                            + [float(block.raw[k][j]) for k in names]
                            + [float(block.observer_scores[k][j]) for k in names]
                        )
                n += m
            if n == 0:
                raise InvalidInputError("images: no reference image given")
            h5.attrs["format"] = DATASET_FORMAT
            h5.attrs["observers"] = json.dumps(names)
            if params is not None:
                h5.attrs["params"] = json.dumps(params.model_dump(mode="json"))
            if seed is not None:
                h5.attrs["seed"] = seed
            h5.attrs["description"] = (
                "TIQA-style auto-labelled dataset: level 0 rows are the undistorted crops"
            )
        if csv_path is not None:
            _write_csv(Path(csv_path), names, csv_rows)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _write_csv(path: Path, names: list[str], rows: list[list[Any]]) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["index", "source", "source_id", "distortion", "level", "score"]
                + names
                + [f"score_{k}" for k in names]
            )
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_dataset(path: str | Path) -> dict[str, Any]:
    """Read a dataset file written by :func:`write_dataset` (all arrays in memory)."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"dataset file not found: {p}")
    with h5py.File(p, "r") as h5:
        if h5.attrs.get("format") != DATASET_FORMAT:
            raise InvalidInputError(f"{p} is not a tomokit-iqa dataset ({DATASET_FORMAT})")
        out: dict[str, Any] = {k: h5[k][()] for k in
                               ("images", "level", "score", "source", "reference_score")}
        for k in ("distortion", "source_id"):
            out[k] = np.array([v.decode() if isinstance(v, bytes) else v for v in h5[k][()]])
        out["observers"] = {k: v[()] for k, v in h5["observers"].items()}
        out["observer_scores"] = {k: v[()] for k, v in h5["observer_scores"].items()}
        out["attrs"] = dict(h5.attrs)
    return out
