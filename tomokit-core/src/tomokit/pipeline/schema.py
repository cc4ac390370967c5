"""JSON Schema of pipeline files, including every installed component's params.

Editors use it for completion and checking: each step is one of the installed
components, so its ``params`` get that component's own schema.
"""

from __future__ import annotations

import warnings
from typing import Any

from tomokit.errors import TomokitError
from tomokit.pipeline.model import PipelineModel
from tomokit.registry import Registry, get_registry

__all__ = ["pipeline_schema"]


def pipeline_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The pipeline JSON Schema; components that fail to import are left out with a warning."""
    reg = registry or get_registry()
    schema = PipelineModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tomokit pipeline"
    defs = schema.setdefault("$defs", {})
    variants: list[dict[str, Any]] = []
    for spec in reg.specs():
        try:
            cls = reg.resolve(spec.kind, f"{spec.name}@{spec.plugin}")
        except TomokitError as exc:
            warnings.warn(f"schema: {spec.kind} {spec.name!r} left out: {exc}", stacklevel=2)
            continue
        def_name = f"{spec.kind}__{spec.name}__params"
        params_schema = _with_references(cls.Params.model_json_schema())
        for sub_name, sub in params_schema.pop("$defs", {}).items():
            defs.setdefault(sub_name, sub)
        defs[def_name] = params_schema
        variants.append(
            {
                "description": f"{spec.kind} {spec.name}: {spec.summary}",
                "properties": {
                    spec.kind: {"const": spec.name},
                    "params": {"$ref": f"#/$defs/{def_name}"},
                },
                "required": [spec.kind],
            }
        )
    defs["ParamReference"] = {
        "type": "object", "properties": {"from": {"type": "string"}}, "required": ["from"],
        "additionalProperties": False,
        "description": "An earlier step's result as the param's value: {from: step.key}.",
    }
    step = defs.get("StepModel")
    if step is not None and variants:
        variants.append({"description": "a sweep over several components (named in the list)",
                         "properties": {"sweep": {"type": "array"}}, "required": ["sweep"]})
        step["anyOf"] = variants
    return schema


def _with_references(params: dict[str, Any]) -> dict[str, Any]:
    """A component's params schema in which any value may be a ``{from: ...}`` reference
    and none is required (a sweep's grid or a reference may supply it; the loader checks
    that every required param is given)."""
    params.pop("required", None)
    for name, prop in list(params.get("properties", {}).items()):
        outer = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
        params["properties"][name] = {
            **outer, "anyOf": [prop, {"$ref": "#/$defs/ParamReference"}]}
    return params
