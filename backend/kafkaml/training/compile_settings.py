"""Which deployment settings training uses, and the names it accepts (issue 13).

``optimizer``, ``learning_rate``, ``loss`` and ``metrics`` are what an *uncompiled* Keras model
is compiled with (and what a Keras early-exit chain, which is always recompiled as one model,
uses). A Keras model whose code compiles it trains as compiled, and a PyTorch model brings its
own ``optimizer()``, ``loss_fn()`` and ``metrics()`` (the executor refuses one without them): for
those the settings do not apply, the API refuses them when they are sent, and the deployment
records them empty rather than as if they were used.

Names are checked against fixed allow-lists of what Keras 3 resolves from a string (its
``optimizers.get`` / ``losses.get`` / ``metrics.get``: snake_case names, aliases and class
names). They are checked here, when the deployment is created, rather than minutes later in the
training worker. Anything outside the lists can still be used by compiling the model in its code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from django.conf import settings

from kafkaml.errors import ApplicationError

COMPILE_FIELDS = ("optimizer", "learning_rate", "loss", "metrics")
DEFAULTS = {
    "optimizer": "adam",
    "learning_rate": 0.001,
    "loss": "sparse_categorical_crossentropy",
    "metrics": "accuracy",
}

# keras.optimizers.get: the name, case-insensitive.
KERAS_OPTIMIZERS = frozenset(
    {
        "adadelta",
        "adafactor",
        "adagrad",
        "adam",
        "adamax",
        "adamw",
        "ftrl",
        "lamb",
        "lion",
        "nadam",
        "rmsprop",
        "sgd",
    }
)

_KERAS_LOSS_FUNCTIONS = {
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "categorical_hinge": "CategoricalHinge",
    "cosine_similarity": "CosineSimilarity",
    "ctc": "CTC",
    "dice": "Dice",
    "hinge": "Hinge",
    "huber": "Huber",
    "kl_divergence": "KLDivergence",
    "log_cosh": "LogCosh",
    "mean_absolute_error": "MeanAbsoluteError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "mean_squared_error": "MeanSquaredError",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "poisson": "Poisson",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "squared_hinge": "SquaredHinge",
    "tversky": "Tversky",
}
_KERAS_LOSS_ALIASES = {"mae", "mape", "mse", "msle", "kld", "logcosh", "huber_loss"}
KERAS_LOSSES = frozenset(
    {*_KERAS_LOSS_FUNCTIONS, *_KERAS_LOSS_FUNCTIONS.values(), *_KERAS_LOSS_ALIASES}
)

# keras.metrics.get: metric names and classes, and any loss function name.
_KERAS_METRIC_NAMES = {
    "accuracy": "Accuracy",
    "acc": None,
    "auc": "AUC",
    "binary_accuracy": "BinaryAccuracy",
    "binary_iou": "BinaryIoU",
    "categorical_accuracy": "CategoricalAccuracy",
    "f1_score": "F1Score",
    "fbeta_score": "FBetaScore",
    "false_negatives": "FalseNegatives",
    "false_positives": "FalsePositives",
    "iou": "IoU",
    "mean_iou": "MeanIoU",
    "precision": "Precision",
    "r2_score": "R2Score",
    "recall": "Recall",
    "root_mean_squared_error": "RootMeanSquaredError",
    "sparse_categorical_accuracy": "SparseCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy": "SparseTopKCategoricalAccuracy",
    "top_k_categorical_accuracy": "TopKCategoricalAccuracy",
    "true_negatives": "TrueNegatives",
    "true_positives": "TruePositives",
}
KERAS_METRICS = frozenset(
    {
        *_KERAS_METRIC_NAMES,
        *(v for v in _KERAS_METRIC_NAMES.values() if v),
        *_KERAS_LOSS_FUNCTIONS,
        *_KERAS_LOSS_ALIASES,
        "crossentropy",
    }
)


def max_epochs() -> int:
    """The most epochs a deployment may ask for (``KAFKAML_MAX_EPOCHS``, 1000 by default)."""
    value = getattr(settings, "KAFKAML_MAX_EPOCHS", None)
    if value is None:
        value = os.environ.get("KAFKAML_MAX_EPOCHS", "").strip() or 1000
    return int(value)


def check_epochs(training_kwargs: dict) -> None:
    cap = max_epochs()
    for name in ("epochs", "max_epochs"):
        epochs = training_kwargs.get(name)
        if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > cap:
            message = (
                f"{name}={epochs} is more than this platform allows ({cap}; "
                "KAFKAML_MAX_EPOCHS sets the limit)."
            )
            raise ApplicationError(
                f"Invalid training_kwargs: {message}", errors={"training_kwargs": [message]}
            )


def compile_settings_apply(models: Iterable) -> bool:
    """Whether training reads optimizer, learning rate, loss and metrics for these models:
    some Keras model is not known to compile itself, or they form a Keras chain."""
    for model in models:
        if model.framework != "tensorflow":
            continue
        summary = model.summary if isinstance(model.summary, dict) else {}
        if model.distributed or summary.get("compiled") is not True:
            return True
    return False


def _why_not(models: list) -> str:
    if all(m.framework == "pytorch" for m in models):
        return "PyTorch models define their own optimizer(), loss_fn() and metrics()"
    return "the model's code compiles it (and PyTorch models define their own)"


def _refuse(field: str, message: str) -> None:
    raise ApplicationError(f"Invalid {field}: {message}", errors={field: [message]})


def _known(name: str, allowed: frozenset[str], *, case_insensitive: bool = False) -> bool:
    return (name.lower() if case_insensitive else name) in allowed


def _suggest(name: str, allowed: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


def settings_not_applying(given: dict, models: list) -> dict[str, str]:
    """{field: why} for each compile setting a request sent that these models do not use."""
    if compile_settings_apply(models):
        return {}
    return {
        field: f"Does not apply: {_why_not(models)}. Leave it out."
        for field in COMPILE_FIELDS
        if given.get(field) not in (None, "")
    }


def resolve_compile_settings(fields: dict, models: list) -> None:
    """Fill in the compile settings of a deployment's ``fields`` (cleared where the models do
    not use them: nothing is recorded as if it were used); 400 naming the field when one is
    not a Keras name."""
    if not compile_settings_apply(models):
        fields.update(optimizer="", loss="", metrics="", learning_rate=DEFAULTS["learning_rate"])
        return
    for field, default in DEFAULTS.items():
        if fields.get(field) is None:
            fields[field] = default
    optimizer = fields["optimizer"].strip()
    if not _known(optimizer, KERAS_OPTIMIZERS, case_insensitive=True):
        _refuse(
            "optimizer",
            f"`{optimizer}` is not a Keras optimizer (one of {', '.join(sorted(KERAS_OPTIMIZERS))})."
            + _suggest(optimizer.lower(), KERAS_OPTIMIZERS),
        )
    loss = fields["loss"].strip()
    if not _known(loss, KERAS_LOSSES):
        _refuse(
            "loss",
            f"`{loss}` is not a Keras loss (e.g. sparse_categorical_crossentropy, "
            "categorical_crossentropy, mse, mae)." + _suggest(loss, KERAS_LOSSES),
        )
    names = [m.strip() for m in fields["metrics"].split(",") if m.strip()]
    for name in names:
        if not _known(name, KERAS_METRICS):
            _refuse(
                "metrics",
                f"`{name}` is not a Keras metric (e.g. accuracy, sparse_categorical_accuracy, "
                "mae, auc, precision, recall)." + _suggest(name, KERAS_METRICS),
            )
    fields.update(optimizer=optimizer, loss=loss, metrics=", ".join(names))
