"""The FitViz TensorBoard plugin (backend).

`loader.FitVizLoader` is the `tensorboard_plugins` entry point; it imports the
plugin itself (`fitviz_plugin.FitVizPlugin`) only when TensorBoard loads it.
`reading.FitVizReader` reads FitViz runs through any TensorBoard data provider.
"""
