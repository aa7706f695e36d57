"""A frame in its stored layout, made inside the compiled forward pass (TensorFlow).

After every batch the Keras callback needs a frame: the predictions at the
sample as the kind's prediction channels, the per-point loss, each output's own
loss, the grid's channels, and the sample's and validation sample's mean loss.
Made with NumPy from the pass's outputs, that is some 25 NumPy calls, each
slowed by the caches TensorFlow's pass has just used (see the README,
"Performance"). `CompiledFrame` makes the same arrays in the pass itself, with
the formulas of `point_losses` evaluated by TensorFlow's NumPy API in float64
as the writer evaluates them with NumPy; Python then receives arrays already
laid out as stored and hands them to `FitVizWriter.record_channels`.

It covers the losses with a formula ("squared", "absolute", "cross_entropy")
and the model's own ("model"); a callable loss is NumPy code and goes through
`FitVizWriter.record`. JAX and PyTorch models go through `record` too: JAX
computes in float32 unless x64 is on, and PyTorch has no graph to join.
"""

import numpy as np

from tb_fitviz import point_losses

LOSS_KINDS = ("squared", "absolute", "cross_entropy", "model")
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


class CompiledFrame:
    """The frame's part of the compiled pass, for one writer's run.

    Args:
        kind: The writer's `RunKind`.
        loss: The writer's `PointLoss` (its kind in `LOSS_KINDS`).
        sizes: (N, V, G*G): rows of the sample, the validation sample (0 without) and
            the grid (0 without) in the pass's points, in that order.
        sample_targets, validation_targets: As the writer keeps them (`y_sample`): class
            labels [n], or values [n] / [n, k]; validation_targets None without.
        logits: A classifier whose outputs are logits (sigmoid or softmax applied here).

    Calling it (inside the pass) with the pass's outputs float32 [N + V + G*G, width],
    the regularization penalty (or None) and the model's own per-point loss float32
    [N + V + G*G, m] (or None) gives one uint32 vector holding the bits of three
    arrays, which `unpack` (given its NumPy value) makes into views of it:
        values float32 [C, N]: the sample frame's channels (`kind.sample_channels`);
        grid float32 [Cg, G*G]: the grid frame's channels ([0, 0] without a grid);
        scalars float64 [3]: the sample's mean loss, the validation sample's (NaN
            without), the regularization penalty (NaN without).
    One tensor, not three: each output of a compiled function costs the call several
    microseconds to hand over and convert. The scalars come first (8-byte aligned at
    the start).
    """

    def __init__(self, kind, loss, sizes, sample_targets, validation_targets=None,
                 logits=False):
        if not self.covers(loss):
            raise ValueError(f"loss: a compiled frame takes one of {LOSS_KINDS}, got "
                             f"{loss.name!r}")
        self.kind = kind
        self.loss_kind = loss.kind
        self.sizes = tuple(int(s) for s in sizes)
        self.logits = bool(logits)
        n, _, g = self.sizes
        channels = len(kind.sample_channels)
        # Where `unpack` finds the arrays in the vector: 3 float64 (24 bytes), the
        # channels [C, N], the grid's [Cg, G*G] (none: offset 0).
        self._layout = ((channels, n), (len(kind.grid_channels), g),
                        24 + 4 * channels * n if g else 0)
        self._targets = [self._prepared(sample_targets)]
        if self.sizes[1]:
            self._targets.append(self._prepared(validation_targets))

    @staticmethod
    def covers(loss):
        """Whether the writer's `loss` has a compiled form here."""
        return loss.kind in LOSS_KINDS

    def _prepared(self, targets):
        targets = np.asarray(targets)
        if self.kind.is_classification:
            labels = targets.astype(np.int64).reshape(-1)
            return {"is_one": labels == 1, "label_column": labels[:, None]}
        return {"values": targets.reshape(len(targets), -1).astype(np.float64)}

    def __call__(self, outputs, regularization=None, point_loss=None):
        import tensorflow as tf

        n, v, g = self.sizes
        p = self._channels(outputs[:n + v], tf.float64)
        if point_loss is not None:
            point_loss = tf.cast(point_loss, tf.float64)
        parts = [(0, n)] + ([(n, n + v)] if v else [])
        means = []
        for (start, end), targets in zip(parts, self._targets):
            given = None if point_loss is None else point_loss[start:end]
            mean, per_output = self._losses(p[start:end], given, targets)
            if start == 0:
                channels = [tf.transpose(p[:n]), mean[None, :]]
                if per_output is not None:
                    channels.append(tf.transpose(per_output))
                values = tf.cast(tf.concat(channels, axis=0), tf.float32)
            means.append(tf.reduce_sum(mean) / (end - start))
        nan = tf.constant(np.nan, tf.float64)
        if not v:
            means.append(nan)
        means.append(nan if regularization is None
                     else tf.cast(tf.reshape(regularization, []), tf.float64))
        if not g:
            grid = tf.zeros([0, 0], tf.float32)
        else:  # float32 as the model gives it; logits made probabilities in float64 first
            grid = tf.cast(tf.transpose(self._channels(
                outputs[n + v:], tf.float64 if self.logits else tf.float32)), tf.float32)
        # Bits, not floats: as uint32 nothing can quieten, flush or round a float64's half.
        return tf.concat([tf.reshape(tf.bitcast(part, tf.uint32), [-1])
                          for part in (tf.stack(means), values, grid)], axis=0)

    def unpack(self, vector):
        """(values, grid, scalars) of the NumPy value of what the call returned (views)."""
        values_shape, grid_shape, grid_offset = self._layout
        grid = (np.ndarray(grid_shape, _FLOAT32, vector, grid_offset) if grid_offset
                else np.zeros((0, 0), np.float32))
        return (np.ndarray(values_shape, _FLOAT32, vector, 24), grid,
                np.ndarray(3, _FLOAT64, vector, 0))

    def _channels(self, outputs, dtype):
        """The prediction channels (`kind.prediction_channels`) of some of the outputs, as
        `dtype`: class probabilities from logits, P(class 1) alone for two classes."""
        import tensorflow as tf

        p = tf.cast(outputs, dtype)
        if self.kind.is_classification and self.logits:
            p = tf.math.sigmoid(p) if p.shape[1] == 1 else tf.nn.softmax(p, axis=1)
        if self.kind.binary and p.shape[1] == 2:
            p = p[:, 1:]  # both probabilities: P(class 1) is stored
        return p

    def _losses(self, predictions, given, targets):
        """(the loss per point float64 [n], each output's [n, k] or None), as
        `FitVizWriter` makes them (`_losses`)."""
        import tensorflow as tf

        xp = tf.experimental.numpy
        kind = self.kind
        outputs = 1 if kind.is_classification else kind.output_count
        if given is not None:
            losses = given
        elif kind.is_classification:
            if kind.binary:
                losses = point_losses.binary_cross_entropy(
                    targets["is_one"], predictions[:, 0], xp)[:, None]
            else:
                losses = point_losses.categorical_cross_entropy(
                    targets["label_column"], predictions, xp)[:, None]
        else:
            formula = (point_losses.squared if self.loss_kind == "squared"
                       else point_losses.absolute)
            losses = formula(targets["values"], predictions, xp)
        return point_losses.mean_and_each(losses, outputs, xp)
