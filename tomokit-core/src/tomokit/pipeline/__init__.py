"""YAML pipelines: load and validate (with line numbers), JSON Schema, run."""

from __future__ import annotations

from tomokit.pipeline._results import read_results
from tomokit.pipeline.load import LoadedPipeline, ResolvedStep, load_pipeline, parse_pipeline
from tomokit.pipeline.runner import RunSummary, StepRecord, run_pipeline
from tomokit.pipeline.schema import pipeline_schema

__all__ = [
    "LoadedPipeline",
    "ResolvedStep",
    "RunSummary",
    "StepRecord",
    "load_pipeline",
    "parse_pipeline",
    "pipeline_schema",
    "read_results",
    "run_pipeline",
]
