"""One worker of a two-worker MultiWorkerMirroredStrategy fit with tf_keras and FitVizCallback.

Run by tests/test_multiworker.py, once per worker, with TF_CONFIG set:

    TF_CONFIG=... python tests/backend_scripts/multiworker.py LOG_DIR OUT_JSON

Every worker passes the same LOG_DIR, as a user would. The model has a
BatchNormalization layer: its moving statistics sync on read, so reading them
outside a replica context is a collective (the case that broke the strategy).
OUT_JSON gets what the test compares with: the process id, Keras' own logged
running loss at every batch, the history, the worker's own copy of the weights
after training, and the callback's sample points.
"""

import json
import os
import sys
import time

STARTED = time.perf_counter()

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from tb_fitviz import FitVizCallback  # noqa: E402

log_dir, out = sys.argv[1], sys.argv[2]
seconds = {"imports": time.perf_counter() - STARTED}
strategy = tf.distribute.MultiWorkerMirroredStrategy()
seconds["strategy"] = time.perf_counter() - STARTED
rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 500)).astype("float32")
y = (np.sin(2 * x) + 0.1 * rng.normal(size=500)).astype("float32")
with strategy.scope():
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(16, activation="tanh",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=2))])
    model.compile(keras.optimizers.Adam(0.02), "mse")
dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(500, seed=3).batch(64)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = dataset.with_options(options)
running = []
callback = FitVizCallback(log_dir, x, y, sample=100, every=1, images=False)
logger = keras.callbacks.LambdaCallback(
    on_train_batch_end=lambda batch, logs: running.append(float(logs["loss"])))
seconds["model"] = time.perf_counter() - STARTED
history = model.fit(dataset, epochs=2, verbose=0, callbacks=[callback, logger])
seconds["fit"] = time.perf_counter() - STARTED
callback.close()
# This worker's own copy of every weight (a local read: no collective).
weights = [np.asarray(strategy.experimental_local_results(v)[0]).tolist()
           for v in model.weights]
with open(out, "w") as file:
    json.dump({"pid": os.getpid(), "seconds": seconds,
               "task": json.loads(os.environ["TF_CONFIG"])["task"],
               "history": history.history, "running_loss": running,
               "steps_per_epoch": callback.params.get("steps"),
               "weights": weights, "names": [v.name for v in model.weights],
               "x_sample": np.asarray(callback.writer.x_sample).tolist()}, file)
