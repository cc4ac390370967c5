"""The built-in ``select`` task: rank candidates by their scores and keep the best.

This is how a pipeline lets a number, not a person, choose: candidates come from a
sweep (``denoise[*]``), their scores from a step mapped over them (``score[*]``), and
candidates and scores are matched by their candidate label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from tomokit.components import Params, Task
from tomokit.errors import InvalidInputError

__all__ = ["Select", "SelectParams", "parse_label", "rank_candidates"]

_SCORE_INPUTS = ("scores", "scores_2", "scores_3", "scores_4")


class SelectParams(Params):
    """How scores rank candidates."""

    higher_is_better: bool | list[bool] = Field(
        description="Direction of each score (one per scores input, or one for all): true "
        "for SSIM/PSNR/TIQA, false for MSE/BRISQUE."
    )
    weights: list[float] | None = Field(
        None, description="Weight of each scores input when several are given (default equal)."
    )
    reduce: str = Field(
        "mean", pattern="^(mean|median)$",
        description="How a per-slice score array becomes one number per candidate.",
    )

    @model_validator(mode="after")
    def _check(self) -> SelectParams:
        if self.weights is not None and (
            any(not np.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0
        ):
            raise ValueError("weights must be finite, >= 0 and not all 0")
        return self


def parse_label(label: str) -> dict[str, Any]:
    """A candidate label back as params: ``'tv_denoise:weight=0.1'`` ->
    ``{'component': 'tv_denoise', 'weight': 0.1}`` (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    head, sep, body = label.partition(":")
    if sep and "=" not in head:
        out["component"] = head
    else:
        body = label
    for part in filter(None, body.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            out.setdefault("component", key)
            continue
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key] = value
    return out


def _one_number(value: Any, reduce: str, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        raise InvalidInputError(f"select: {what} is empty")
    if arr.ndim == 0:
        return float(arr)
    return float(np.mean(arr) if reduce == "mean" else np.median(arr))


def rank_candidates(
    scores: Sequence[Mapping[str, Any]], higher_is_better: list[bool], weights: list[float],
    reduce: str = "mean",
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(labels best first, combined score, per-metric values)`` of the candidates.

    One metric ranks by its value. Several are each scaled to [0, 1] over the candidates
    (1 = best, a constant metric gives 0.5) and combined by their weights. Non-finite
    scores rank last; ties keep the sweep's order."""
    labels = list(scores[0])
    table = np.array([[_one_number(s[lab], reduce, f"score of {lab!r}") for s in scores]
                      for lab in labels], dtype=np.float64).reshape(len(labels), len(scores))
    oriented = np.where(np.asarray(higher_is_better)[None, :], table, -table)
    if len(scores) == 1:
        combined = oriented[:, 0].copy()
    else:
        lo = np.nanmin(np.where(np.isfinite(oriented), oriented, np.nan), axis=0)
        hi = np.nanmax(np.where(np.isfinite(oriented), oriented, np.nan), axis=0)
        span = np.where(hi > lo, hi - lo, np.nan)
        scaled = np.where(np.isnan(span), 0.5, (oriented - lo) / span)
        w = np.asarray(weights, dtype=np.float64)
        combined = scaled @ (w / w.sum())
    combined = np.where(np.isfinite(combined), combined, -np.inf)
    order = np.argsort(-combined, kind="stable")
    ranked = [labels[k] for k in order]
    sign = 1.0 if len(scores) > 1 or higher_is_better[0] else -1.0
    return ranked, sign * combined[order], table[order]


class Select(Task):
    """Keep the best candidate by score: the best result, its label and params, and the
    ranking of all candidates.

    Inputs: ``candidates`` (e.g. ``denoise[*]``) and ``scores`` (e.g. ``ssim[*]``), plus
    ``scores_2`` .. ``scores_4`` to combine several metrics. Outputs ``best`` (the best
    candidate's value), ``name`` (its label), ``params`` (JSON of the params its label
    encodes) and ``ranking`` (a table: rank, candidate, score, and each metric).
    """

    summary: ClassVar[str] = "Rank sweep candidates by their scores and keep the best"
    Params: ClassVar[type[Params]] = SelectParams
    input_names: ClassVar[tuple[str, ...]] = ("candidates", *_SCORE_INPUTS)
    optional_inputs: ClassVar[tuple[str, ...]] = _SCORE_INPUTS[1:]
    collection_inputs: ClassVar[tuple[str, ...]] = ("candidates", *_SCORE_INPUTS)
    outputs: ClassVar[tuple[str, ...]] = ("best", "name", "params", "ranking")

    def run(self, inputs: Mapping[str, Any], *, rng: np.random.Generator) -> dict[str, Any]:
        p = self.params
        assert isinstance(p, SelectParams)
        candidates = inputs["candidates"]
        if not isinstance(candidates, Mapping) or not candidates:
            raise InvalidInputError("select: 'candidates' needs at least one candidate")
        metrics = [inputs[k] for k in _SCORE_INPUTS if inputs.get(k) is not None]
        for k, metric in zip(_SCORE_INPUTS, metrics, strict=False):
            if set(metric) != set(candidates):
                missing = sorted(set(candidates) - set(metric))
                extra = sorted(set(metric) - set(candidates))
                raise InvalidInputError(
                    f"select: {k!r} must score every candidate, by the same labels; "
                    + (f"no score for {missing[:3]}" if missing else f"no candidate {extra[:3]}")
                )
        directions = p.higher_is_better if isinstance(p.higher_is_better, list) else (
            [p.higher_is_better] * len(metrics))
        if len(directions) != len(metrics):
            raise InvalidInputError(
                f"select: higher_is_better has {len(directions)} entries for {len(metrics)} "
                "scores inputs"
            )
        weights = p.weights or [1.0] * len(metrics)
        if len(weights) != len(metrics):
            raise InvalidInputError(
                f"select: weights has {len(weights)} entries for {len(metrics)} scores inputs"
            )
        ordered = [{lab: m[lab] for lab in candidates} for m in metrics]
        ranked, combined, table = rank_candidates(ordered, directions, weights, p.reduce)
        best = ranked[0]
        width = max(len(lab.encode()) for lab in ranked)
        fields = [("rank", "i4"), ("candidate", f"S{width}"), ("score", "f8")] + [
            (k, "f8") for k in _SCORE_INPUTS[: len(metrics)]
        ]
        ranking = np.zeros(len(ranked), dtype=fields)
        ranking["rank"] = np.arange(1, len(ranked) + 1)
        ranking["candidate"] = [lab.encode() for lab in ranked]
        ranking["score"] = combined
        for j, k in enumerate(_SCORE_INPUTS[: len(metrics)]):
            ranking[k] = table[:, j]
        value = candidates[best]
        if hasattr(value, "read_all"):  # a streamed volume: the best one is kept whole
            value = value.read_all()
        return {
            "best": value,
            "name": best,
            "params": json.dumps(parse_label(best)),
            "ranking": ranking,
        }
