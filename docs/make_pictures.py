"""Makes the README's pictures of every kind of run (docs/kind-*.png) with `tb-fitviz export`.

    .venv/bin/python demo/run_demo.py --no-serve          # the demo's runs, in demo_logs/
    .venv/bin/python docs/make_pictures.py [--demo-logs demo_logs] [--kind-logs kind_logs]

Each picture is what `tb-fitviz export LOGDIR --run RUN -o docs/NAME.png --size 800x450
--stop STOP [--view VIEW] [--theme THEME]` writes (printed for each); they run here in one
process with one reader per log directory, as reading a log directory is the slow part.
The kinds the demo has not (several outputs over one feature, a one-feature classifier,
three classes and a regression over two features) come from the small Keras fits of the
tests (tests/kind_fits.py), trained into --kind-logs when it does not exist yet.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# (log directory key, run, picture name, stop, view, theme)
PICTURES = [
    ("demo", "sine/adagrad-lr0.01", "kind-curve", 400, None, "light"),
    ("demo", "moons/adam-lr0.03", "kind-surface-binary", 300, None, "light"),
    ("demo", "moons/adam-lr0.003", "kind-surface-binary-dark", 300, None, "dark"),
    ("demo", "moons/adam-lr0.03", "kind-true-class", 120, "true_class", "light"),
    ("demo", "multi/three-features-two-outputs", "kind-pred-true", 150, None, "light"),
    ("demo", "sine/adagrad-lr0.01", "kind-loss-map", 1500, "loss_map", "light"),
    ("kind", "waves", "kind-curve-outputs", None, None, "light"),
    ("kind", "bands", "kind-curve-classes", None, None, "light"),
    ("kind", "blobs2", "kind-surface-classes", None, None, "light"),
    ("kind", "plane", "kind-surface-regression", None, None, "light"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-logs", default=str(ROOT / "demo_logs"))
    parser.add_argument("--kind-logs", default=str(ROOT / "kind_logs"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tb_fitviz.cli import _read_without_tensorflow
    from tb_fitviz.export import export
    from tb_fitviz.plugin.reading import reader_for_logdir

    if not os.path.isdir(args.kind_logs):
        from kind_fits import make_fits

        make_fits(args.kind_logs)
    logdirs = {"demo": args.demo_logs, "kind": args.kind_logs}
    _read_without_tensorflow(args.demo_logs)
    readers = {}
    for key, run, name, stop, view, theme in PICTURES:
        if key not in readers:
            readers[key] = reader_for_logdir(logdirs[key])
        output = ROOT / "docs" / f"{name}.png"
        command = (f"tb-fitviz export {os.path.relpath(logdirs[key], ROOT)} --run {run} "
                   f"-o docs/{name}.png --size 800x450"
                   + (f" --stop {stop}" if stop else "") + (f" --view {view}" if view else "")
                   + (f" --theme {theme}" if theme != "light" else ""))
        result = export(logdirs[key], run, output, size=(800, 450), stop=stop, view=view,
                        theme=theme, progress=False, reader=readers[key])
        print(f"{command}   # step {result.steps[-1]}")


if __name__ == "__main__":
    main()
