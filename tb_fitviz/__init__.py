"""FitViz: watch a model learn, in TensorBoard.

`FitVizWriter` records from any training loop; `FitVizCallback` from Keras.
Both are imported lazily so that importing `tb_fitviz` (as TensorBoard does to
load the plugin) stays cheap and never imports TensorFlow or Matplotlib.
"""

__version__ = "0.1.0"

__all__ = ["FitVizCallback", "FitVizWriter", "FitFigure", "schedules", "__version__"]


def __getattr__(name):
    if name == "FitVizWriter":
        from tb_fitviz.writer import FitVizWriter

        return FitVizWriter
    if name == "FitVizCallback":
        from tb_fitviz.keras_callback import FitVizCallback

        return FitVizCallback
    if name == "FitFigure":
        from tb_fitviz.figure import FitFigure

        return FitFigure
    if name == "schedules":
        import importlib

        return importlib.import_module("tb_fitviz.schedules")
    raise AttributeError(f"module 'tb_fitviz' has no attribute {name!r}")
