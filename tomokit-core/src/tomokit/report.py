"""A run report: one self-contained HTML page for any tomokit results file.

The page shows the pipeline and its provenance, every saved step (a thumbnail of the
middle slice of images and volumes, a table of numbers, an SVG plot of per-slice
values), and the ranking of a ``select`` step with a thumbnail per candidate where the
results hold it. Images are embedded as PNG data URIs and styles inline, so the file
can be mailed or archived alone; there is no script, so nothing can fail in a browser.
Volumes are never read whole: only the slice a thumbnail shows.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from tomokit.errors import InvalidInputError

__all__ = ["report_command", "thumbnail_png", "write_report"]

THUMB = 192  # thumbnail side in pixels

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;
text-align:left;font-size:.9em}th{background:#f3f3f3}pre{background:#f6f6f6;padding:.8em;
overflow:auto;font-size:.85em}.step{margin:1em 0;padding:.5em 1em;border:1px solid #e3e3e3;
border-radius:6px}.meta{color:#666;font-size:.85em}img.thumb{image-rendering:pixelated;
border:1px solid #999;margin:2px}.grid{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}figcaption{font-size:.8em;color:#444;max-width:200px;word-break:break-all}
tr.best{background:#e8f5e9}
"""


def thumbnail_png(image: np.ndarray, size: int = THUMB) -> bytes:
    """A grey PNG of a 2-D array, scaled to at most ``size`` pixels a side (block means)
    and stretched between its 1st and 99th percentiles."""
    import imageio.v3 as iio

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidInputError(f"thumbnail: expected a 2-D array, got shape {arr.shape}")
    step = max(1, int(np.ceil(max(arr.shape) / size)))
    h, w = (arr.shape[0] // step) * step or arr.shape[0], (arr.shape[1] // step) * step or arr.shape[1]
    if step > 1:
        arr = arr[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    finite = arr[np.isfinite(arr)]
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
    scaled = np.clip((np.nan_to_num(arr, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return bytes(iio.imwrite("<bytes>", (scaled * 255).astype(np.uint8), extension=".png"))


def _img(image: np.ndarray, caption: str = "") -> str:
    data = base64.b64encode(thumbnail_png(image)).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img class="thumb" alt="{html.escape(caption or "image")}" '
            f'src="data:image/png;base64,{data}" width="{THUMB}">{cap}</figure>')


def _svg_plot(values: np.ndarray, label: str) -> str:
    """A small inline SVG line plot of a 1-D series (per-slice values)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return ""
    lo, hi = float(v[ok].min()), float(v[ok].max())
    span = hi - lo if hi > lo else 1.0
    w, h, pad = 480, 140, 30
    xs = pad + (w - 2 * pad) * np.arange(len(v)) / max(len(v) - 1, 1)
    ys = h - pad - (h - 2 * pad) * (np.where(ok, v, lo) - lo) / span
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return (f'<svg width="{w}" height="{h}" role="img" aria-label="{html.escape(label)}">'
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#ddd"/>'
            f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{points}"/>'
            f'<text x="{pad}" y="15" font-size="11">{html.escape(label)}: '
            f'{lo:.4g} .. {hi:.4g} over {len(v)} values</text></svg>')


def _numbers(arr: np.ndarray, name: str) -> str:
    if arr.ndim == 0:
        return f"<p><b>{html.escape(name)}</b> = {float(arr):.6g}</p>"
    if arr.size <= 16:
        cells = "".join(f"<td>{float(x):.6g}</td>" for x in arr.ravel())
        return f"<table><tr><th>{html.escape(name)}</th>{cells}</tr></table>"
    stats = (f"mean {np.nanmean(arr):.6g}, median {np.nanmedian(arr):.6g}, "
             f"min {np.nanmin(arr):.6g}, max {np.nanmax(arr):.6g}")
    return (f"<p><b>{html.escape(name)}</b>: {arr.size} values; {stats}</p>"
            + _svg_plot(arr.ravel(), name))


def _structured(arr: np.ndarray, best_first: bool = False) -> str:
    names = arr.dtype.names or ()
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for k, row in enumerate(arr):
        cells = []
        for n in names:
            value = row[n]
            text = value.decode() if isinstance(value, bytes) else (
                f"{float(value):.6g}" if np.issubdtype(type(value), np.floating) else str(value))
            cells.append(f"<td>{html.escape(text)}</td>")
        cls = ' class="best"' if best_first and k == 0 else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _channels_last(shape: tuple[int, ...]) -> bool:
    """An ``(H, W, C)`` image with a few channels (class probabilities of one slice),
    not a stack of slices."""
    return len(shape) == 3 and shape[-1] <= 4 and min(shape[:2]) >= 4


def _middle(dataset: Any) -> np.ndarray:
    """The slice a thumbnail shows, read alone: the middle slice of a volume, the
    argmax of class probabilities."""
    shape = dataset.shape
    if len(shape) == 2:
        return np.asarray(dataset[()])
    if _channels_last(shape):
        image = np.asarray(dataset[()])
        return image.argmax(axis=-1) if shape[-1] > 1 else image[..., 0]
    mid = np.asarray(dataset[shape[0] // 2])
    if mid.ndim == 3:  # (H, W, C): probabilities or channels
        return mid.argmax(axis=-1) if mid.shape[-1] > 1 else mid[..., 0]
    return mid


def _node(node: Any, name: str) -> str:
    import h5py

    if isinstance(node, h5py.Group):
        kind = node.attrs.get("tomokit_type")
        if kind == "sinogram":
            return _img(node["data"][()], f"{name}: sinogram {node['data'].shape}")
        if kind == "model":
            return (f"<p><b>{html.escape(name)}</b>: trained model, sha256 "
                    f"<code>{html.escape(str(node.attrs['sha256']))}</code> "
                    f"({node['keras'].shape[0] / 2**20:.1f} MiB, embedded)</p>")
        return "".join(_node(node[k], f"{name}.{k}") for k in node)
    arr_kind = node.dtype.kind
    if node.dtype.names:
        return f"<p><b>{html.escape(name)}</b></p>" + _structured(node[()], "rank" in node.dtype.names)
    if arr_kind in "SUO":
        value = node[()]
        text = value.decode() if isinstance(value, bytes) else str(value)
        return f"<p><b>{html.escape(name)}</b></p><pre>{html.escape(text)}</pre>"
    if node.ndim >= 2 and arr_kind in "biuf" and (
            min(node.shape[-2:]) >= 4 or _channels_last(node.shape)):
        return _img(_middle(node), f"{name}: {node.dtype} {node.shape}" + (
            " (most probable class)" if _channels_last(node.shape) and node.shape[-1] > 1
            else " (middle slice)" if node.ndim >= 3 and not _channels_last(node.shape)
            else ""))
    return _numbers(np.asarray(node[()]), name)


def _select_groups(pipeline_text: str) -> dict[str, str]:
    """``{select step id: group of its candidates}`` from the stored pipeline text."""
    import yaml

    try:
        doc = yaml.safe_load(pipeline_text) or {}
    except yaml.YAMLError:
        return {}
    out: dict[str, str] = {}
    for step in doc.get("steps", []) if isinstance(doc, dict) else []:
        if isinstance(step, dict) and step.get("task") == "select":
            ref = (step.get("inputs") or {}).get("candidates")
            if isinstance(ref, str) and ref.endswith("[*]"):
                out[str(step.get("id"))] = ref[:-3]
    return out


def _ranking(h5: Any, sid: str, group: str) -> str:
    """Thumbnails of the ranked candidates the results file holds, best first."""
    ranking = h5[f"steps/{sid}/ranking"][()]
    figs = []
    for row in ranking:
        label = row["candidate"].decode()
        node = f"steps/{group}[{label}]"
        if node in h5 and not isinstance(h5[node], type(h5["steps"])):
            figs.append(_img(_middle(h5[node]), f"#{row['rank']} {label} ({row['score']:.4g})"))
    if "best" in h5[f"steps/{sid}"] and not figs:
        best = h5[f"steps/{sid}/best"]
        if best.ndim >= 2:
            figs.append(_img(_middle(best), f"#1 {ranking['candidate'][0].decode()} (best)"))
    return '<div class="grid">' + "".join(figs) + "</div>" if figs else ""


def _meta(node: Any) -> str:
    return ", ".join(f"{k}: {node.attrs[k]}" for k in ("kind", "component", "params",
                                                      "seconds", "reused") if k in node.attrs)


def _step_card(h5: Any, sid: str, selects: dict[str, str]) -> str:
    node = h5["steps"][sid]
    body = _node(node, sid)
    if sid in selects:
        body = _ranking(h5, sid, selects[sid]) + body
    return (f'<div class="step" id="{html.escape(sid)}"><h2>{html.escape(sid)}</h2>'
            f'<p class="meta">{html.escape(_meta(node))}</p>{body}</div>')


def _sweep_card(h5: Any, group: str, members: list[str]) -> str:
    """A sweep's candidates side by side: thumbnails, or a table of their numbers."""
    import h5py

    images, rows = [], []
    for sid in members:
        node = h5["steps"][sid]
        label = sid[len(group) + 1 : -1]
        if isinstance(node, h5py.Dataset) and node.ndim >= 2 and node.dtype.kind in "biuf":
            images.append(_img(_middle(node), label))
        elif isinstance(node, h5py.Dataset) and node.dtype.kind in "biuf":
            value = np.asarray(node[()], dtype=np.float64)
            text = f"{float(value):.6g}" if value.ndim == 0 else (
                f"mean {np.nanmean(value):.6g} over {value.size}")
            rows.append(f"<tr><td>{html.escape(label)}</td><td>{text}</td></tr>")
        else:
            rows.append(f"<tr><td>{html.escape(label)}</td><td>{_node(node, sid)}</td></tr>")
    body = ('<div class="grid">' + "".join(images) + "</div>") if images else ""
    if rows:
        body += f"<table><tr><th>candidate</th><th>{html.escape(group)}</th></tr>{''.join(rows)}</table>"
    first = h5["steps"][members[0]]
    return (f'<div class="step" id="{html.escape(group)}"><h2>{html.escape(group)} '
            f'({len(members)} candidates)</h2><p class="meta">'
            f'{html.escape(str(first.attrs.get("kind", "")))}</p>{body}</div>')


def check_report_output(report: str | os.PathLike[str], *, results: Path,
                        inputs: list[Path], overwrite: bool = False) -> Path:
    """Check a ``--report`` path before a run starts (one clear error, nothing written):
    HTML, not an input, not the results file, and not an existing file tomokit did not
    write unless ``overwrite``."""
    from tomokit.io._guard import check_output

    html_out = check_output(
        report, what="--report", suffixes=(".html", ".htm"), format_name="an HTML report",
        inputs=[*inputs, results], overwrite=overwrite,
        replaceable=lambda q: q.read_bytes()[:15].lower() == b"<!doctype html>")
    if html_out.resolve() == Path(results).resolve():
        raise InvalidInputError("--report and -o name the same file")
    return html_out


def write_report(results: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Write the HTML report of the results file ``results`` to ``output`` (atomically;
    never over the results file)."""
    import h5py

    from tomokit.pipeline._results import RESULTS_FORMAT

    src, out = Path(results), Path(output)
    if not src.is_file():
        raise InvalidInputError(f"results file not found: {src}")
    if out.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"-o {out}: a report is HTML; give a name ending in .html")
    if out.exists() and out.resolve() == src.resolve():
        raise InvalidInputError(f"-o {out} is the results file; choose another name")
    try:
        h5 = h5py.File(src, "r")
    except OSError as exc:
        raise InvalidInputError(f"{src}: not a readable HDF5 file ({exc})") from None
    with h5:
        if h5.attrs.get("format") != RESULTS_FORMAT or "steps" not in h5:
            raise InvalidInputError(f"{src} is not a tomokit results file")
        attrs = dict(h5.attrs)
        text = str(attrs.get("pipeline", ""))
        order = json.loads(str(attrs.get("step_order", "[]")))
        saved = [s for s in order if s in h5["steps"]] + sorted(
            set(h5["steps"]) - set(order))
        selects = _select_groups(text)
        parts = [f"<h1>tomokit run report: {html.escape(src.name)}</h1>",
                 "<table>" + "".join(
                     f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(attrs.get(k, '')))}"
                     "</td></tr>"
                     for k in ("pipeline_file", "seed", "started_utc", "finished_utc",
                               "executor", "versions")) + "</table>"]
        # candidates of one sweep are shown together: a grid of images or one table
        groups: dict[str, list[str]] = {}
        for sid in saved:
            group = sid.partition("[")[0] if sid.endswith("]") and "[" in sid else sid
            groups.setdefault(group, []).append(sid)
        for group, members in groups.items():
            if members == [group]:
                parts.append(_step_card(h5, group, selects))
            else:
                parts.append(_sweep_card(h5, group, members))
        parts.append(f"<h2>Pipeline</h2><pre>{html.escape(text)}</pre>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>tomokit report: {html.escape(src.name)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def report_command(
    results: Annotated[Path, typer.Argument(help="A tomokit results file (.h5).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")],
) -> None:
    """Write a self-contained HTML report of a results file: provenance, thumbnails,
    tables, plots and rankings."""
    path = write_report(results, output)
    typer.echo(f"wrote {path}")

