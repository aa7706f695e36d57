"""A compiled forward pass of a Keras model over fixed points (interim: TensorFlow backend).

`Forward(model, x)()` returns the model's outputs on `x`, the sum of its
regularization penalties and, with ``loss="model"``, its own compiled loss per
point and output. Traced once; every call reuses the traced function.
"""

import numpy as np


class Forward:
    """A forward pass of a Keras model over fixed points, compiled once.

    Args:
        model: A built Keras 3 (TensorFlow backend) or tf_keras model.
        x: float64 [n, d]: the points to predict on, fixed for the object's life.
        flavour: "keras" or "tf_keras".
        targets: With loss="model": one array per model output, in the form the
            compiled loss expects.
        loss: None, or "model" for the model's own loss per point and output.
    """

    def __init__(self, model, x, *, flavour="keras", targets=None, loss=None):
        import tensorflow as tf

        x = np.asarray(x, dtype=np.float64)
        count = len(x)
        rank, dtype = _model_input(model, x.shape[1])
        x_tensor = tf.constant(x.reshape((count,)) if rank == 1 else x, dtype=dtype)
        outputs = model(x_tensor[:1], training=False)
        parts = _as_list(outputs)
        self.output_widths = tuple(int(np.prod(p.shape[1:])) if len(p.shape) > 1 else 1
                                   for p in parts)
        names = getattr(model, "output_names", None)
        self.output_names = (tuple(names) if names and len(parts) > 1
                             and len(names) == len(parts) else None)
        self._has_regularization = bool(_safe_losses(model))
        loss_functions = None
        target_tensors = None
        if loss == "model":
            loss_functions = model_loss_functions(model, flavour, len(parts))
            target_tensors = [tf.constant(np.asarray(t)) for t in targets]
        has_regularization = self._has_regularization

        def forward():
            out = _as_list(model(x_tensor, training=False))
            flat = [tf.reshape(tf.cast(o, tf.float32), [count, -1]) for o in out]
            results = [tf.concat(flat, axis=1)]
            if has_regularization:
                penalties = [tf.cast(tf.reshape(p, []), tf.float32) for p in model.losses]
                results.append(tf.add_n(penalties))
            else:
                results.append(tf.constant(np.nan, tf.float32))
            if loss_functions is not None:
                losses = []
                for function, o, t in zip(loss_functions, out, target_tensors):
                    value = tf.cast(function(tf.cast(t, o.dtype) if t.dtype.is_floating
                                             else t, o), tf.float32)
                    losses.append(tf.reshape(value, [count]))
                results.append(tf.stack(losses, axis=1))
            return results

        self._function = tf.function(forward, autograph=False).get_concrete_function()

    def __call__(self):
        results = self._function()
        outputs = results[0].numpy()
        regularization = float(results[1].numpy()) if self._has_regularization else None
        point_loss = results[2].numpy() if len(results) > 2 else None
        return outputs, regularization, point_loss


def read_loss_tracker(model):
    """(total, count) of Keras' "loss" Mean tracker, or None."""
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == "loss" and hasattr(metric, "total") \
                and hasattr(metric, "count"):
            return float(np.asarray(metric.total)), float(np.asarray(metric.count))
    return None


def compiled_loss_info(model, flavour="keras"):
    """{"names": [...], "cross_entropy": bool, "from_logits": bool | None} of the
    model's compiled loss."""
    loss = getattr(model, "loss", None)
    losses = list(loss.values()) if isinstance(loss, dict) else (
        list(loss) if isinstance(loss, (list, tuple)) else [loss])
    names, from_logits = [], None
    for item in losses:
        if item is None:
            continue
        name = item if isinstance(item, str) else (
            getattr(item, "name", None) or getattr(item, "__name__", None)
            or type(item).__name__)
        names.append(str(name))
        config = getattr(item, "get_config", None)
        if callable(config):
            try:
                value = config().get("from_logits")
            except Exception:  # noqa: BLE001 - a custom loss without a config
                value = None
            if value is not None:
                from_logits = bool(value)
        inner = getattr(item, "fn_kwargs", None) or getattr(item, "_fn_kwargs", None)
        if isinstance(inner, dict) and "from_logits" in inner:
            from_logits = bool(inner["from_logits"])
    cross_entropy = any("crossentropy" in n.lower().replace("_", "") for n in names)
    return {"names": names, "cross_entropy": cross_entropy, "from_logits": from_logits}


def model_loss_functions(model, flavour, count):
    """One per-point loss function per model output (the compiled loss, unreduced)."""
    loss = getattr(model, "loss", None)
    if loss is None or (isinstance(loss, (list, tuple, dict)) and not loss):
        raise ValueError("loss: 'model' needs a compiled model with a loss; compile the "
                         "model first, or use loss='auto'")
    if isinstance(loss, dict):
        names = list(getattr(model, "output_names", None) or loss)
        losses = [loss[name] for name in names if name in loss]
    elif isinstance(loss, (list, tuple)):
        losses = list(loss)
    else:
        losses = [loss] * count
    if len(losses) != count:
        raise ValueError(f"loss: 'model' needs one loss per output; the model has {count} "
                         f"outputs and {len(losses)} losses")
    if flavour == "tf_keras":
        import tf_keras as keras_module
    else:
        import keras as keras_module
    functions = []
    for item in losses:
        if isinstance(item, str):
            item = keras_module.losses.get(item)
        if isinstance(item, keras_module.losses.Loss):
            functions.append(item.call)  # the unreduced per-sample values
        elif callable(item):
            functions.append(item)
        else:
            raise ValueError(f"loss: 'model' cannot use the model's loss {item!r}")
    return functions


def _model_input(model, width):
    """(rank, dtype) of the model's input; (n, d) when unknown."""
    rank, dtype = 2, "float32"
    inputs = getattr(model, "inputs", None)
    try:
        if inputs:
            if len(inputs) > 1:
                raise ValueError(f"model: has {len(inputs)} inputs; FitViz feeds one input of "
                                 "shape (n, d)")
            shape = tuple(inputs[0].shape)
            rank = len(shape)
            dtype = getattr(inputs[0].dtype, "name", inputs[0].dtype) or "float32"
            if rank == 2 and shape[1] is not None and shape[1] != width:
                raise ValueError(f"model: expects {shape[1]} features, x has {width}")
    except (AttributeError, TypeError):
        pass
    if rank not in (1, 2):
        raise ValueError(f"model: expects inputs of rank {rank}; FitViz feeds (n, d) arrays")
    if rank == 1 and width != 1:
        raise ValueError(f"model: expects inputs of shape (n,), x has {width} features")
    return rank, str(dtype)


def _as_list(outputs):
    if isinstance(outputs, dict):
        return list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


def _safe_losses(model):
    try:
        return list(model.losses)
    except Exception:  # noqa: BLE001 - a model that cannot list its losses has none for us
        return []
