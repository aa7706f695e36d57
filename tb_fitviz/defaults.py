"""FitViz's view defaults and colours, from the one file the tab reads too.

`frontend/defaults.json` (shipped in the wheel as ``tb_fitviz/frontend``) holds
the band rule, the smoothing windows, the grid size and the colours of the
light and dark themes. The FitViz tab gets it through ``GET config``; the
writer stores each run's view defaults (band, smoothing) in its settings from
it, and the Images-tab figures and ``tb-fitviz export`` take their colours
from it. Standard library only: the plugin's entry point may import this.
"""

import functools
import json
from pathlib import Path

BANDS = ("sqrt", "raw", "none")


def frontend_dir():
    """The frontend folder: inside the installed package, else the checkout's frontend/."""
    package = Path(__file__).resolve().parent
    shipped = package / "frontend"
    if (shipped / "index.js").is_file():
        return shipped
    return package.parent / "frontend"


@functools.lru_cache(maxsize=1)
def load():
    """The parsed defaults file (cached; treat as read-only)."""
    return json.loads((frontend_dir() / "defaults.json").read_text(encoding="utf-8"))


def theme(name="light"):
    """The colours of theme `name` ("light" or "dark")."""
    return load()["themes"][name]


def band_for(loss_kind):
    """The loss band that is faithful to a loss: "sqrt" (units of y for squared
    errors), "raw" (absolute errors), or "none" (cross-entropy, a callable)."""
    rule = load()["view"]["band"]
    return rule.get(loss_kind, rule["callable"])


def view_defaults(loss_kind, band="auto", smoothing=None):
    """The run's view defaults stored in its settings: {"band", "smoothing"}.

    Args:
        loss_kind: "squared", "absolute", "cross_entropy", "model" or "callable".
        band: "auto" (the faithful band for the loss), "sqrt", "raw", or
            "none"/None.
        smoothing: odd moving-average window of the band, or None for the default.
    """
    if band is None:
        band = "none"
    if band == "auto":
        band = band_for(loss_kind)
    if band not in BANDS:
        raise ValueError(f"band: expected 'auto', 'sqrt', 'raw' or None, got {band!r}")
    if smoothing is None:
        smoothing = int(load()["view"]["smoothing"])
    return {"band": band, "smoothing": int(smoothing)}


def grid_defaults():
    """{"size": points a side, "margin": fraction of the data's range added on each side}."""
    return dict(load()["grid"])
