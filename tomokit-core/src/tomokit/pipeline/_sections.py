"""Sections: runs of consecutive per-slice steps fused into one pass over a volume.

As HTTomo's sections: when a per-slice step's only reader is the next per-slice step
and its result is not a requested output, the two run block by block in memory, one
slice through both, and the intermediate volume is never written. A section is
checkpointed once, at its last step, which is also where ``--resume`` picks it up (the
last step's hash covers every step before it)."""

from __future__ import annotations

from collections import Counter

from tomokit.pipeline._refs import split_ref
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep

__all__ = ["fusable", "sections"]


def fusable(step: ResolvedStep) -> bool:
    """A step that can be a member of a section: per slice, one image in."""
    cls = step.cls
    return (cls.execution == "slice" and len(step.inputs) == 1
            and isinstance(next(iter(step.inputs.values())), str)
            and not step.param_refs and not cls.outputs
            and getattr(cls, "domain", "image") == "image"
            and cls.input_names[0] != "sinogram")


def sections(pipeline: LoadedPipeline, wanted: set[str]) -> dict[str, list[ResolvedStep]]:
    """``{first step id: [steps of the section]}`` for every section of two or more."""
    readers = Counter(split_ref(ref)[0] for s in pipeline.steps for ref in s.references())
    out: dict[str, list[ResolvedStep]] = {}
    current: list[ResolvedStep] = []
    for step in pipeline.steps:
        prev = current[-1] if current else None
        if (prev is not None and fusable(step) and next(iter(step.inputs.values())) == prev.id
                and prev.id not in wanted and readers[prev.id] == 1):
            current.append(step)
            continue
        if len(current) > 1:
            out[current[0].id] = current
        current = [step] if fusable(step) else []
    if len(current) > 1:
        out[current[0].id] = current
    return out
