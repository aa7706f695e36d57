"""A small real Keras fit recorded by FitVizCallback, run as a subprocess by the fault suite.

Prints one line `RECORDED <step>` (flushed) right after each frame's `record` (or
`record_channels`, which the callback's compiled pass uses) returns, i.e. after the
writer handed the frame to the operating system, and
`DONE` at the end. Options make it slow (to be killed or watched live) or
divergent.

Usage:
    python train.py LOGDIR [--epochs 3] [--points 256] [--batch 16]
                           [--sleep 0.0] [--lr 0.01] [--every 1]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("logdir")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per batch")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--images", default="false", help="'epoch' or 'false'")
    args = parser.parse_args()

    import keras
    import numpy as np

    from tb_fitviz import FitVizCallback

    keras.utils.set_random_seed(0)
    x = np.linspace(-1.0, 1.0, args.points).astype("float32")
    y = (np.sin(3 * x) + np.random.default_rng(0).normal(0, 0.1, x.size)).astype("float32")
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(args.lr), loss="mse")

    callback = FitVizCallback(args.logdir, x, y, sample=64, every=args.every,
                              images="epoch" if args.images == "epoch" else False)
    writer = callback.writer

    def printing(record):
        def record_and_print(step, *a, **k):
            record(step, *a, **k)
            print(f"RECORDED {step}", flush=True)

        return record_and_print

    writer.record = printing(writer.record)
    writer.record_channels = printing(writer.record_channels)

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if args.sleep:
                time.sleep(args.sleep)

    model.fit(x[:, None], y[:, None], epochs=args.epochs, batch_size=args.batch,
              shuffle=True, verbose=0, callbacks=[callback, Slow()])
    callback.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    sys.exit(main())
