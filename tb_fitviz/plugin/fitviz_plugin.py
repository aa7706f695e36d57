"""The FitViz TensorBoard plugin: routes under /data/plugin/fitviz/.

GET config, runs, static?run=, frames?run=&series=&start=&stop=&stride=&limit=,
lossmap?run=&width=&height=&reduce=, scalars?run=, and the frontend's files
(index.js and the other .js/.css/.json files of the shipped frontend folder,
from a whitelist). Every answer goes through
`http_util.Respond`; bad parameters raise `InvalidArgumentError` (400), unknown
runs and files `NotFoundError` (404), both as plain text naming the parameter.
"""

import json
import math
import os
import re
import threading
from pathlib import Path

import numpy as np
from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_fitviz import defaults
from tb_fitviz import summary_format as fmt
from tb_fitviz.plugin import encoding, reading
from tb_fitviz.summary_format import PLUGIN_NAME

_ROUTE_PREFIX = f"/data/plugin/{PLUGIN_NAME}/"
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
_UNSIGNED = re.compile(r"[0-9]{1,30}")
_INT64_MAX = 2**63 - 1


def frontend_dir():
    """The frontend folder: inside the installed package, else the checkout's frontend/."""
    return defaults.frontend_dir()


def scan_static_files(root):
    """{relative posix path: absolute path} of the .js and .css files under `root`.

    Symbolic links and anything resolving outside `root` are left out.
    """
    root = Path(root)
    files = {}
    if not root.is_dir():
        return files
    resolved_root = root.resolve()
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not d.startswith((".", "_"))]
        for name in names:
            path = Path(directory) / name
            if path.suffix not in _STATIC_TYPES or path.is_symlink() or name.startswith("."):
                continue
            resolved = path.resolve()
            if resolved_root not in resolved.parents:
                continue
            files[path.relative_to(root).as_posix()] = resolved
    return files


class FitVizPlugin(base_plugin.TBPlugin):
    """Serves FitViz runs (frames, point sets, losses) and the FitViz tab's frontend."""

    plugin_name = PLUGIN_NAME

    def __init__(self, context):
        self._data_provider = context.data_provider
        samples = getattr(getattr(context, "flags", None), "samples_per_plugin", None)
        # A user's cap (--samples_per_plugin=fitviz=N): TensorBoard keeps a sample per tag.
        self._sampled = bool(isinstance(samples, dict) and samples.get(PLUGIN_NAME, 0))
        self._cache = reading.ArrayCache()
        self._frontend_dir = frontend_dir()
        self._static_lock = threading.Lock()
        self._static_files = scan_static_files(self._frontend_dir)

    def get_plugin_apps(self):
        return {
            "/config": self._serve_config,
            "/runs": self._serve_runs,
            "/lossmap": self._serve_loss_map,
            "/static": self._serve_static,
            "/frames": self._serve_frames,
            "/scalars": self._serve_scalars,
            "/index.js": self._serve_file,
            "/*": self._serve_file,
        }

    def is_active(self):
        # Listed as active through data_plugin_names(): the data provider reports
        # the "fitviz" plugin for any run that has FitViz summaries.
        return False

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="FitViz")

    # -- routes ----------------------------------------------------------------

    def _reader(self, request):
        if self._data_provider is None:
            raise errors.NotFoundError("no data provider: TensorBoard has no data loaded")
        return reading.FitVizReader(
            self._data_provider,
            plugin_util.context(request.environ),
            plugin_util.experiment_id(request.environ),
            cache=self._cache,
            sampled=self._sampled,
        )

    @wrappers.Request.application
    def _serve_runs(self, request):
        return _respond_json(request, self._reader(request).runs())

    @wrappers.Request.application
    def _serve_config(self, request):
        body = {
            "schema_version": fmt.SCHEMA_VERSION,
            "frame_info_fields": list(fmt.FRAME_INFO_FIELDS),
            "series": {name: {"block_size": size} for name, (_, size) in fmt.SERIES.items()},
            "loss_map_reductions": list(reading.LOSS_MAP_REDUCTIONS),
            "defaults": defaults.load(),
        }
        return _respond_json(request, body)

    @wrappers.Request.application
    def _serve_static(self, request):
        run = _run_arg(request)
        static = self._reader(request).static(run)
        width = static["settings"]["input_width"]

        def points(name):
            rows = static[name]
            if rows is None:
                return None
            features = [_json_list(row) for row in rows[:width]]
            targets = [_json_list(row) for row in rows[width:]]
            return {"features": features, "targets": targets}

        body = {
            "run": run,
            "settings": static["settings"],
            "sample": points("sample"),
            "scatter": points("scatter"),
            "validation": points("validation"),
        }
        return _respond_json(request, body)

    @wrappers.Request.application
    def _serve_frames(self, request):
        run = _run_arg(request)
        series = request.args.get("series") or "sample"
        start = _int_arg(request, "start", 0, 0)
        stop = _int_arg(request, "stop", None, 0)
        stride = _int_arg(request, "stride", 1, 1)
        limit = _int_arg(request, "limit", None, 1)
        if stop is not None and stop > _INT64_MAX:
            stop = None  # beyond any step
        frames = self._reader(request).frames(
            run, start=min(start, _INT64_MAX), stop=stop, stride=min(stride, _INT64_MAX),
            limit=None if limit is None else min(limit, _INT64_MAX), series=series,
        )
        body = encoding.encode_frames(frames.steps, frames.info, frames.values)
        return http_util.Respond(request, body, encoding.CONTENT_TYPE)

    @wrappers.Request.application
    def _serve_loss_map(self, request):
        run = _run_arg(request)
        width = _int_arg(request, "width", 512, 1)
        height = _int_arg(request, "height", 256, 1)
        reduce = request.args.get("reduce") or "max"
        side = reading.MAX_LOSS_MAP_SIDE
        frames = self._reader(request).loss_map(run, min(width, side), min(height, side), reduce)
        body = encoding.encode_frames(frames.steps, frames.info, frames.values)
        return http_util.Respond(request, body, encoding.CONTENT_TYPE)

    @wrappers.Request.application
    def _serve_scalars(self, request):
        run = _run_arg(request)
        series = self._reader(request).scalars(run)
        body = {
            name: {"steps": steps.astype(np.int64).tolist(), "values": _json_list(values)}
            for name, (steps, values) in series.items()
        }
        return _respond_json(request, body)

    @wrappers.Request.application
    def _serve_file(self, request):
        path = request.path
        marker = path.find(_ROUTE_PREFIX)
        name = path[marker + len(_ROUTE_PREFIX):] if marker >= 0 else ""
        location = self._static_files.get(name)
        if location is None and name.rsplit(".", 1)[-1] in ("js", "css"):
            # A file added since start-up (frontend development): rescan the folder;
            # the candidates are still only files found in it, never built from the URL.
            with self._static_lock:
                self._static_files = scan_static_files(self._frontend_dir)
                location = self._static_files.get(name)
        if location is None:
            raise errors.NotFoundError(f"no such FitViz file: {name[:200]!r}")
        try:
            content = location.read_bytes()
        except OSError:
            raise errors.NotFoundError(f"no such FitViz file: {name[:200]!r}") from None
        return http_util.Respond(request, content, _STATIC_TYPES[location.suffix])


def _respond_json(request, body):
    # Serialized here (non-finite floats are None already): TensorBoard's own
    # JSON cleansing walks every element and costs more than the dump itself.
    text = json.dumps(body, allow_nan=False, separators=(",", ":"))
    return http_util.Respond(request, text, "application/json")


# -- parameters ------------------------------------------------------------------


def _run_arg(request):
    run = request.args.get("run")
    if run is None:
        raise errors.InvalidArgumentError("run: required (a run name as listed by ./runs)")
    if not run:
        raise errors.InvalidArgumentError("run: expected a run name, got an empty string")
    return run


def _int_arg(request, name, default, minimum):
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not _UNSIGNED.fullmatch(text):
        kind = "a positive integer" if minimum >= 1 else "a non-negative integer"
        raise errors.InvalidArgumentError(f"{name}: expected {kind}, got {text[:40]!r}")
    value = int(text)
    if value < minimum:
        raise errors.InvalidArgumentError(f"{name}: expected an integer >= {minimum}, got {value}")
    return value


def _json_list(values):
    """Floats for JSON: non-finite values become None (JSON has no NaN)."""
    array = np.asarray(values, dtype=np.float64)
    result = array.tolist()
    if not np.isfinite(array).all():
        result = [v if math.isfinite(v) else None for v in result]
    return result
