"""TensorBoard's entry point for FitViz: `fitviz = tb_fitviz.plugin.loader:FitVizLoader`.

TensorBoard imports this module and calls `FitVizLoader().load(context)` with no
try/except, so it stays light: standard library and TensorBoard's own
`base_plugin` only. NumPy, the data reading and the routes are imported in
`load`, and neither TensorFlow nor Matplotlib is imported at all.
"""

from tensorboard.plugins import base_plugin

from tb_fitviz.summary_format import PLUGIN_NAME

# Frames kept per FitViz tag when the user did not pass
# `--samples_per_plugin=fitviz=N`: 0 means keep every one (TensorBoard's
# default would keep only 10 on the Python path and 100 on the Rust one).
DEFAULT_SAMPLES = 0


class FitVizLoader(base_plugin.TBLoader):
    """Loads the FitViz plugin and gives it a keep-everything sampling default.

    TensorBoard reservoir-samples a custom plugin's tensors to a few per tag.
    `fix_flags` runs before the data ingester is built, so setting
    `samples_per_plugin["fitviz"]` there makes both the Python ingester and the
    Rust data server keep every frame. A value the user passed on the command
    line (`--samples_per_plugin=fitviz=500`) is kept as it is.
    """

    def fix_flags(self, flags):
        samples = getattr(flags, "samples_per_plugin", None)
        if samples is None or isinstance(samples, str):
            # Programmatic use may hand the raw string; parse it like TensorBoard does.
            samples = _parse_samples_per_plugin(samples or "")
            flags.samples_per_plugin = samples
        samples.setdefault(PLUGIN_NAME, DEFAULT_SAMPLES)

    def load(self, context):
        from tb_fitviz.plugin.fitviz_plugin import FitVizPlugin

        return FitVizPlugin(context)


def _parse_samples_per_plugin(value):
    result = {}
    for token in value.split(","):
        token = token.strip()
        if not token:
            continue
        name, sep, count = token.partition("=")
        if not sep:
            raise base_plugin.FlagsError(
                f"--samples_per_plugin: expected NAME=COUNT pairs, got {token!r}"
            )
        try:
            result[name.strip()] = int(count)
        except ValueError:
            raise base_plugin.FlagsError(
                f"--samples_per_plugin: expected an integer count for {name!r}, got {count!r}"
            ) from None
    return result
