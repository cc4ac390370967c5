"""Label projection: turn full-reference observers' values into quality labels.

TIQA (Zhang et al., npj Comput. Mater. 2022, ``generate_labels.py``) labels a distorted
image by asking several FR-IQA "observers" how far it is from its reference, putting each
answer on the 1..5 opinion scale and averaging. For one reference, one distortion type and
its levels ``k = 1..L``, with ``S`` the reference's own (human) score and ``v_k`` an
observer's raw value at level ``k``, the observer's normalised quality ``q_k`` is

* a similarity in [0, 1] (``higher_is_better``, e.g. SSIM, MS-SSIM, FSIM):
  ``q_k = clip(v_k, 0, 1)``;
* a distortion measure (lower is better, e.g. GMSD, MDSI, MSE), normalised by the worst
  (highest) level of that type: ``q_k = max(0, 1 - v_k / v_L)``;
* PSNR (and any unbounded higher-is-better measure), relative to the mildest level:
  ``q_k = min(1, v_k / v_1)``;

and the observer's score is ``max(1, round(q_k * S))`` (rounding optional; half to even, as
Python's ``round`` in the reference code). The label is the mean of the observers' scores.
The undistorted reference keeps its own score ``S``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tomokit import InvalidInputError

__all__ = [
    "DEFAULT_OBSERVERS",
    "LabelResult",
    "Rule",
    "compare_levels",
    "label_levels",
    "observer_scores",
    "project_labels",
    "rule_for",
]

#: Default observer set (configurable everywhere it is used).
DEFAULT_OBSERVERS: tuple[str, ...] = ("ssim", "ms_ssim", "fsim", "gmsd", "mdsi")

Rule = Literal["similarity", "distortion", "ratio"]


def rule_for(name: str, *, higher_is_better: bool, value_range: tuple[float, float] = (0, 1)) -> Rule:
    """The projection rule of an observer, from its declared ``higher_is_better``.

    PSNR, and any higher-is-better measure whose range is not bounded by 1, uses the
    ``ratio`` rule; other higher-is-better measures are similarities; the rest distortions.
    """
    if name.split("@")[0] == "psnr" or (higher_is_better and not value_range[1] <= 1.0):
        return "ratio"
    return "similarity" if higher_is_better else "distortion"


def _check_reference_score(reference_score: float) -> float:
    s = float(reference_score)
    if not np.isfinite(s) or s < 1:
        raise InvalidInputError(
            f"reference_score: expected a finite score >= 1 on the 1..5 scale, got {reference_score}"
        )
    return s


def observer_scores(
    values: Sequence[float] | np.ndarray,
    *,
    rule: Rule,
    reference_score: float = 5.0,
    rounding: bool = True,
) -> np.ndarray:
    """One observer's scores for the levels ``1..L`` of one distortion type.

    ``values`` are the raw observer values ordered by level (the last is the worst level).
    Returns ``max(1, round(q * S))`` per level (see the module docstring for ``q``).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise InvalidInputError(
            f"values: expected one raw observer value per level (1-D, non-empty), got shape {v.shape}"
        )
    if np.isnan(v).any():
        raise InvalidInputError("values: observer values contain NaN")
    s = _check_reference_score(reference_score)
    if rule == "similarity":
        q = np.clip(v, 0.0, 1.0)
    elif rule == "distortion":
        if (v < 0).any():
            raise InvalidInputError("values: a distortion measure cannot be negative")
        worst = v[-1]
        if worst == 0 or not np.isfinite(worst):
            q = np.where(v == 0, 1.0, 0.0) if worst == 0 else np.where(np.isfinite(v), 1.0, 0.0)
        else:
            q = np.maximum(0.0, 1.0 - v / worst)
    elif rule == "ratio":
        best = v[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            if np.isinf(best):  # level 1 identical to the reference
                q = np.where(np.isinf(v), 1.0, 0.0)
            elif best <= 0:
                q = np.where(v >= best, 1.0, 0.0)
            else:
                q = np.minimum(1.0, np.maximum(0.0, v / best))
    else:
        raise InvalidInputError(f"rule: expected similarity, distortion or ratio, got {rule!r}")
    scaled = q * s
    if rounding:
        scaled = np.round(scaled)
    return np.maximum(1.0, scaled)


def project_labels(
    raw: Mapping[str, Sequence[float] | np.ndarray],
    rules: Mapping[str, Rule],
    *,
    reference_score: float = 5.0,
    rounding: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Average the observers' scores into labels for the levels of one distortion type.

    ``raw`` maps observer names to their raw values per level; ``rules`` gives each one's
    rule (see :func:`rule_for`). Returns ``(labels, scores_by_observer)``.
    """
    if not raw:
        raise InvalidInputError("raw: at least one observer is needed to project labels")
    scores: dict[str, np.ndarray] = {}
    for name, values in raw.items():
        if name not in rules:
            raise InvalidInputError(f"rules: no projection rule given for observer {name!r}")
        scores[name] = observer_scores(
            values, rule=rules[name], reference_score=reference_score, rounding=rounding
        )
    lengths = {len(s) for s in scores.values()}
    if len(lengths) != 1:
        raise InvalidInputError("raw: every observer needs one value per level (lengths differ)")
    labels = np.mean(np.stack(list(scores.values())), axis=0)
    return labels, scores


@dataclass
class LabelResult:
    """Labels of one reference's distorted versions (one distortion type, levels 1..L).

    ``raw`` and ``scores`` map observer names to per-level raw values and 1..5 scores.
    """

    labels: np.ndarray
    raw: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    rules: dict[str, Rule] = field(default_factory=dict)


def compare_levels(
    observer: Any, ref: np.ndarray, stack: Sequence[np.ndarray] | np.ndarray
) -> np.ndarray:
    """One observer value per distorted image: one batched call when the observer returns
    one value per slice (the Observer contract), else one call per pair."""
    batch = np.stack(list(stack))
    values = np.asarray(observer.compare(np.broadcast_to(ref, batch.shape), batch), dtype=float)
    if values.shape == (len(stack),):
        return values
    return np.array([float(observer.compare(ref, d)) for d in stack])


def _load_observers(names: Sequence[str], data_range: float) -> list[tuple[str, Any]]:
    import tomokit

    if not names:
        raise InvalidInputError("observers: name at least one observer (e.g. ssim, gmsd)")
    return [(n, tomokit.load("observer", n, data_range=data_range)) for n in names]


def label_levels(
    reference: np.ndarray,
    distorted: np.ndarray | Sequence[np.ndarray],
    *,
    observers: Sequence[str] | Sequence[tuple[str, Any]] = DEFAULT_OBSERVERS,
    data_range: float = 1.0,
    reference_score: float = 5.0,
    rounding: bool = True,
) -> LabelResult:
    """Label the levels ``1..L`` of one distortion type of ``reference``.

    ``distorted`` is a ``(L, H, W)`` stack ordered by level. ``observers`` are registered
    observer names (loaded with ``data_range``) or ready ``(name, observer)`` pairs.
    """
    from tomokit.components import check_image

    ref = check_image(reference, name="reference", ndim=(2,))
    stack = check_image(np.asarray(distorted), name="distorted", ndim=(3,))
    if stack.shape[1:] != ref.shape:
        raise InvalidInputError(
            f"distorted: slices have shape {stack.shape[1:]}, reference has {ref.shape}"
        )
    pairs: list[tuple[str, Any]] = (
        _load_observers([str(o) for o in observers], data_range)
        if all(isinstance(o, str) for o in observers)
        else [(str(o[0]), o[1]) for o in observers]
    )
    raw: dict[str, np.ndarray] = {}
    rules: dict[str, Rule] = {}
    for name, obs in pairs:
        raw[name] = compare_levels(obs, ref, stack)
        rules[name] = rule_for(
            name,
            higher_is_better=bool(obs.higher_is_better),
            value_range=(float(obs.value_range[0]), float(obs.value_range[1])),
        )
    labels, scores = project_labels(
        raw, rules, reference_score=reference_score, rounding=rounding
    )
    return LabelResult(labels=labels, raw=raw, scores=scores, rules=rules)
