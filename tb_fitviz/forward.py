"""A compiled forward pass of a Keras model over fixed points, on any Keras backend.

`Forward(model, x)()` returns the model's outputs on `x`, the sum of its
regularization penalties and, with ``loss="model"``, its own compiled loss per
point and output. The points (and targets) become backend tensors once; the
pass is compiled once with the backend's own means and reused at every call:

- TensorFlow (Keras 3 on TensorFlow, and tf_keras): a `tf.function`, traced once and
  compiled by XLA (`jit_compile="auto"`), or left a graph where XLA cannot compile the
  model; with `finish`, the frame is made in the same function (`compiled_frame`).
- JAX: `jax.jit` over `model.stateless_call`, with the variables' current values
  passed in at each call (during a JAX fit they live in the trainer's state, not
  in the variables, see `_jax_values`); compiled once for the fixed shapes.
- PyTorch (and Keras' NumPy backend): an eager call under `torch.no_grad()` on
  tensors made once (PyTorch has no graph to reuse without `torch.compile`,
  whose compile time would cost more than the small passes FitViz makes).

Per-point losses and penalties are computed with `keras.ops` (tf ops for
tf_keras) inside the compiled function, so one call makes one device round trip.
"""

import warnings

import numpy as np

LOSS_OPTIONS = (None, "model")


class Forward:
    """A forward pass of a Keras model over fixed points, compiled once.

    Args:
        model: A built Keras 3 model (any backend) or tf_keras model.
        x: float64 [n, d]: the points to predict on, fixed for the object's life.
        flavour: "keras" or "tf_keras".
        targets: With loss="model": one array per model output, in the form the
            compiled loss expects.
        loss: None, or "model" for the model's own loss per point and output.

        jit_compile: TensorFlow: "auto" compiles the pass with XLA, and falls back to
            TensorFlow's graph (as Keras runs it on a CPU) when XLA cannot compile the
            model; True requires XLA (ValueError if it cannot); False: the graph. Under a
            multi-worker strategy the pass is the graph whatever the option. JAX always
            compiles with XLA (`jax.jit`); PyTorch has no XLA here (True is refused).
        finish: TensorFlow only: traced into the same compiled pass, called with its
            tensors (outputs, regularization or None, point_loss or None), returning one
            tensor; `finish.unpack` makes what the call returns of its NumPy value
            (`compiled_frame.CompiledFrame`).

    Calling it returns ``(outputs float32 [n, total output width],
    regularization float or None, point_loss float32 [n, outputs] or None)``, or
    with `finish` what `finish.unpack` makes of the NumPy value of `finish`'s tensor.
    """

    def __init__(self, model, x, *, flavour="keras", targets=None, loss=None, finish=None,
                 jit_compile="auto"):
        if flavour not in ("keras", "tf_keras"):
            raise ValueError(f"flavour: expected 'keras' or 'tf_keras', got {flavour!r}")
        if loss not in LOSS_OPTIONS:
            raise ValueError(f"loss: expected None or 'model', got {loss!r}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x: expected points of shape (n, d) with n >= 1, got shape "
                             f"{list(x.shape)}")
        count = len(x)
        rank, dtype = _model_input(model, x.shape[1])
        x = (x.reshape((count,)) if rank == 1 else x).astype(dtype)
        self.backend = model_backend(model, flavour)
        if finish is not None and self.backend != "tensorflow":
            raise ValueError(f"finish: only a TensorFlow pass takes it; this model computes "
                             f"with {self.backend}")
        check_jit_compile(jit_compile, self.backend)
        self.finished = finish is not None
        if self.backend == "tensorflow":
            implementation = _TensorFlowPass(model, x, flavour, finish, jit_compile)
        elif self.backend == "jax":
            implementation = _JaxPass(model, x)
        else:
            implementation = _EagerPass(model, x, self.backend)
        shapes, self._has_regularization = implementation.probe()
        self.output_widths = tuple(int(np.prod(s[1:])) if len(s) > 1 else 1 for s in shapes)
        names = getattr(model, "output_names", None)
        self.output_names = (tuple(names) if names and len(shapes) > 1
                             and len(names) == len(shapes) else None)
        loss_functions = None
        if loss == "model":
            loss_functions = model_loss_functions(model, flavour, len(shapes))
            targets = _check_targets(targets, len(shapes), count)
        implementation.compile(count, self._has_regularization, loss_functions, targets)
        self._implementation = implementation
        # Whether XLA compiled the pass (JAX: always; TensorFlow: see jit_compile).
        self.jit_compiled = getattr(implementation, "jit_compiled", self.backend == "jax")

    @property
    def has_regularization(self):
        """Whether the model has regularization penalties (summed by the pass)."""
        return self._has_regularization

    def __call__(self):
        if self.finished:
            return self._implementation.run()
        outputs, regularization, point_loss = self._implementation.run()
        outputs = np.asarray(outputs, dtype=np.float32)
        regularization = (float(np.asarray(regularization)) if self._has_regularization
                          else None)
        if point_loss is not None:
            point_loss = np.asarray(point_loss, dtype=np.float32)
        return outputs, regularization, point_loss


JIT_COMPILE_OPTIONS = ("auto", True, False)


def check_jit_compile(value, backend=None):
    """The `jit_compile` option: "auto", True or False, and True only for a `backend`
    ("tensorflow", "jax", ...; None: not known yet) that has XLA here (ValueError
    otherwise)."""
    if not any(value is option or (isinstance(option, str) and value == option)
               for option in JIT_COMPILE_OPTIONS):
        raise ValueError(f"jit_compile: expected 'auto', True or False, got {value!r}")
    if value is True and backend is not None and backend not in ("tensorflow", "jax"):
        raise ValueError(f"jit_compile: True needs Keras on TensorFlow or JAX; this Keras "
                         f"computes with {backend}")
    return value


def model_backend(model, flavour="keras"):
    """"tensorflow", "jax", "torch" or "numpy": the backend `model` computes with."""
    if flavour == "tf_keras":
        return "tensorflow"
    import keras

    return str(keras.backend.backend())


# -- the backends ------------------------------------------------------------------


class _TensorFlowPass:
    """Keras 3 on TensorFlow, or tf_keras: a tf.function traced once, compiled by XLA
    unless `jit_compile` is False or XLA cannot (with `finish`, if given, traced into it)."""

    def __init__(self, model, x, flavour, finish=None, jit_compile="auto"):
        import tensorflow as tf

        self._finish = finish
        self._jit_compile = jit_compile
        self.jit_compiled = False
        self._model = model
        self._x = tf.constant(x)
        self._strategy = multi_worker_strategy(model)

    def _locally(self, function):
        """`function` as it is, or, under a multi-worker strategy, run in a replica context.

        Only the chief records, so what it runs must not issue a collective: in
        the strategy's cross-replica context a variable that syncs on read (a
        BatchNormalization's moving statistics, say) is all-reduced across the
        workers at every read, and the other workers never join. In a replica
        context (strategy.run, as Keras' own predict step runs) each read is this
        worker's own copy.
        """
        strategy = self._strategy
        if strategy is None:
            return function

        def local():
            results = strategy.run(function)
            return [strategy.experimental_local_results(r)[0] for r in results]

        return local

    def probe(self):
        import tensorflow as tf

        def outputs():
            return _as_list(self._model(self._x[:1], training=False))

        # Traced, not run: the output shapes without computing anything.
        traced = tf.function(self._locally(outputs), autograph=False).get_concrete_function()
        shapes = [tuple(o.shape) for o in tf.nest.flatten(traced.structured_outputs)]
        return shapes, bool(_safe_losses(self._model))

    def compile(self, count, has_regularization, loss_functions, targets):
        import tensorflow as tf

        model, x_tensor, finish = self._model, self._x, self._finish
        target_tensors = None if targets is None else [tf.constant(t) for t in targets]

        def forward():
            out = _as_list(model(x_tensor, training=False))
            flat = [o if o.dtype == tf.float32 and o.shape.rank == 2  # already [count, width]
                    else tf.reshape(tf.cast(o, tf.float32), [count, -1]) for o in out]
            results = [flat[0] if len(flat) == 1 else tf.concat(flat, axis=1)]
            if has_regularization:
                penalties = [tf.cast(tf.reshape(p, []), tf.float32) for p in model.losses]
                results.append(tf.add_n(penalties))
            if loss_functions is not None:
                losses = []
                for function, o, t in zip(loss_functions, out, target_tensors):
                    value = tf.cast(function(tf.cast(t, o.dtype) if t.dtype.is_floating
                                             else t, o), tf.float32)
                    losses.append(tf.reshape(value, [count]))
                results.append(tf.stack(losses, axis=1))
            if finish is not None:  # one tensor: one output to hand over and convert
                return [finish(results[0], results[1] if has_regularization else None,
                               results[-1] if loss_functions is not None else None)]
            return results

        self._function = None
        if self._jit_compile and self._strategy is None:
            compiled = tf.function(forward, autograph=False,
                                   jit_compile=True).get_concrete_function()
            try:
                compiled()  # XLA compiles at the first call: here, once, before training
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
                # What XLA raises for an op or shape it cannot compile (other errors, out of
                # memory say, are the model's and propagate).
                if self._jit_compile is True:
                    raise ValueError(f"jit_compile: XLA cannot compile this model's forward "
                                     f"pass ({type(error).__name__}: {error}); pass "
                                     "jit_compile='auto' or False") from error
                # TensorFlow has logged the failure at length: say what it means here.
                first_line = (str(error).strip().splitlines() or [""])[0][:300]
                warnings.warn(
                    f"jit_compile='auto': XLA cannot compile this model's forward pass "
                    f"({type(error).__name__}: {first_line}); FitViz predicts with "
                    "TensorFlow's graph instead, as Keras does on a CPU. Pass "
                    "jit_compile=False to skip the attempt (and TensorFlow's log of it).",
                    stacklevel=2)
            else:
                self._function, self.jit_compiled = compiled, True
        if self._function is None:  # TensorFlow's graph, as Keras runs the model on a CPU
            self._function = tf.function(self._locally(forward),
                                         autograph=False).get_concrete_function()
        self._has_regularization = has_regularization

    def run(self):
        # np.asarray: a read-only view of each result (tensor.numpy() copies it: ~30 us for
        # the 11,000 points of a surface run).
        results = [np.asarray(r) for r in self._function()]
        if self._finish is not None:
            return self._finish.unpack(results[0])
        regularization = results.pop(1) if self._has_regularization else None
        return results[0], regularization, results[1] if len(results) > 1 else None


class _JaxPass:
    """Keras 3 on JAX: `jax.jit` over `model.stateless_call`, compiled once.

    The variables' values are arguments, not constants: each call passes the
    current ones (`_jax_values`), so the compiled function is reused as the
    model trains, and nothing is traced again while shapes stay the same.
    """

    def __init__(self, model, x):
        import jax

        self._model = model
        self._x = jax.device_put(x)

    def probe(self):
        import jax

        trainable, non_trainable = _jax_values(self._model)

        def shapes(trainable, non_trainable, x):
            outputs, _, losses = self._model.stateless_call(
                trainable, non_trainable, x, training=False, return_losses=True)
            return _as_list(outputs), losses

        # Shapes only: nothing is computed or compiled.
        outputs, losses = jax.eval_shape(shapes, trainable, non_trainable, self._x[:1])
        return [tuple(o.shape) for o in outputs], bool(losses)

    def compile(self, count, has_regularization, loss_functions, targets):
        import jax
        from keras import ops

        model = self._model
        self._targets = None if targets is None else [
            jax.device_put(_jax_array(t)) for t in targets]

        def forward(trainable, non_trainable, x, target_values):
            outputs, _, losses = model.stateless_call(
                trainable, non_trainable, x, training=False, return_losses=True)
            return _assemble(ops, _as_list(outputs), losses if has_regularization else None,
                             loss_functions, target_values, count)

        self._function = jax.jit(forward)

    def run(self):
        import jax

        trainable, non_trainable = _jax_values(self._model)
        results = self._function(trainable, non_trainable, self._x, self._targets)
        return jax.device_get(results)  # one transfer for all three


class _EagerPass:
    """Keras 3 on PyTorch (or NumPy): an eager call without gradients, on tensors made once."""

    def __init__(self, model, x, backend):
        from keras import ops

        self._model = model
        self._backend = backend
        self._x = ops.convert_to_tensor(x)

    def _no_grad(self):
        if self._backend == "torch":
            import torch

            return torch.no_grad()
        import contextlib

        return contextlib.nullcontext()

    def probe(self):
        with self._no_grad():
            parts = _as_list(self._model(self._x[:1], training=False))
            return [tuple(p.shape) for p in parts], bool(_safe_losses(self._model))

    def compile(self, count, has_regularization, loss_functions, targets):
        from keras import ops

        self._count = count
        self._has_regularization = has_regularization
        self._loss_functions = loss_functions
        self._targets = None if targets is None else [
            ops.convert_to_tensor(np.asarray(t)) for t in targets]

    def run(self):
        from keras import ops

        with self._no_grad():
            outputs = _as_list(self._model(self._x, training=False))
            penalties = list(self._model.losses) if self._has_regularization else None
            results = _assemble(ops, outputs, penalties, self._loss_functions, self._targets,
                                self._count)
            return tuple(None if r is None else ops.convert_to_numpy(r) for r in results)


def _assemble(ops, outputs, penalties, loss_functions, targets, count):
    """(outputs float32 [n, width], summed penalties or None, per-point losses or None),
    with `keras.ops`: inside a compiled function, or eagerly."""
    from keras import backend

    flat = [ops.reshape(ops.cast(o, "float32"), (count, -1)) for o in outputs]
    joined = flat[0] if len(flat) == 1 else ops.concatenate(flat, axis=1)
    regularization = None
    if penalties:
        regularization = ops.sum(ops.stack(
            [ops.cast(ops.reshape(p, ()), "float32") for p in penalties]))
    point_loss = None
    if loss_functions is not None:
        values = []
        for function, output, target in zip(loss_functions, outputs, targets):
            if "float" in backend.standardize_dtype(target.dtype):
                target = ops.cast(target, output.dtype)
            values.append(ops.reshape(ops.cast(function(target, output), "float32"), (count,)))
        point_loss = ops.stack(values, axis=1)
    return joined, regularization, point_loss


def multi_worker_strategy(model):
    """The model's tf.distribute strategy if it spans several workers, else None."""
    strategy = getattr(model, "distribute_strategy", None)
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None
    try:
        tasks = sum(len(v) for v in resolver.cluster_spec().as_dict().values())
    except Exception:  # noqa: BLE001 - a resolver without a cluster: not multi-worker
        return None
    return strategy if tasks > 1 else None


def _jax_array(values):
    """NumPy targets for JAX: float32, or int32 labels (JAX's default integer width)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer) or values.dtype == bool:
        return values.astype(np.int32)
    return values.astype(np.float32)


def _jax_values(model):
    """The current (trainable, non-trainable) variable values of a Keras 3 JAX model.

    During a JAX fit, Keras keeps the model's state in the trainer
    (`model._jax_state`, replaced after every step) and empties the variables
    themselves; a variable read then gives its *initializer's* value, silently.
    While that state is newer than the variables (`_jax_state_synced` False),
    it is used as it is: no copy into the variables, no device sync. Otherwise
    (before or after fit, or after a sync) the variables hold the values.
    """
    state = _unsynced_jax_state(model)
    if state is not None:
        trainable = state.get("trainable_variables")
        non_trainable = state.get("non_trainable_variables")
        if trainable is not None and non_trainable is not None:
            return list(trainable), list(non_trainable)
    _sync_jax_state(model)
    return ([v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables])


def _unsynced_jax_state(model):
    state = getattr(model, "_jax_state", None)
    if state and getattr(model, "_jax_state_synced", True) is False:
        return state
    return None


def _sync_jax_state(model):
    """Puts the trainer's state back into the variables if it is newer (a no-op otherwise);
    the fallback when the trainer's state is not where `_jax_values` looks for it."""
    sync = getattr(model, "jax_state_sync", None)
    if callable(sync) and getattr(model, "_jax_state_synced", True) is False:
        sync()


# -- the loss tracker and the compiled loss ----------------------------------------


def read_loss_tracker(model):
    """(total, count) of Keras' "loss" Mean tracker, or None.

    On JAX during a fit the tracker's variables are empty and its values live in
    the trainer's state (`model._jax_state["metrics_variables"]`, in the order of
    `model.metrics_variables`): they are read from there, in one device transfer.
    """
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == "loss" and hasattr(metric, "total") \
                and hasattr(metric, "count"):
            values = _jax_metric_values(model, (metric.total, metric.count))
            if values is None:
                _sync_jax_state(model)
                values = (metric.total, metric.count)
            return _scalar(values[0]), _scalar(values[1])
    return None


def _scalar(value):
    """A variable's (or array's) value as a float: `.numpy()` where it has one (tf and
    Keras variables; a tf.distribute variable's __array__ gives no array), else NumPy's."""
    numpy = getattr(value, "numpy", None)
    if callable(numpy):
        value = numpy()
    return float(np.asarray(value))


def _jax_metric_values(model, variables):
    state = _unsynced_jax_state(model)
    values = None if state is None else state.get("metrics_variables")
    if values is None:
        return None
    positions = {id(v): i for i, v in enumerate(model.metrics_variables)}
    if len(positions) != len(values) or any(id(v) not in positions for v in variables):
        return None
    import jax

    return jax.device_get([values[positions[id(v)]] for v in variables])


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


def _check_targets(targets, outputs, count):
    if targets is None:
        raise ValueError("targets: loss='model' needs one array of targets per model output")
    targets = [np.asarray(t) for t in targets]
    if len(targets) != outputs:
        raise ValueError(f"targets: expected one array per model output ({outputs}), got "
                         f"{len(targets)}")
    for index, target in enumerate(targets):
        if len(target) != count:
            raise ValueError(f"targets: array {index} has {len(target)} rows, x has {count}")
    return targets


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
