"""Turn user model code into a model object, and describe it.

This is the one implementation shared by the validation sandbox and the training worker::

    from mlcode_executor.usercode import build_model, describe_model, UserCodeError

    try:
        model = build_model("tensorflow", imports, code)
    except UserCodeError as exc:
        report(exc.to_dict())   # {type, message, line, column, source_line, section, kind, ...}

The user writes two text fields: ``imports`` and ``code``. Both are compiled with recognisable
file names (``<model imports>`` and ``<model code>``) and run in one fresh namespace, so any
exception can be traced back to a line and column of the user's own text (``source``). The code
must define ``model`` (``build``):

* TensorFlow: a Keras model, compiled or compiled at deployment (``keras``).
* PyTorch: an ``nn.Module`` instance whose class also defines ``loss_fn()``, ``optimizer()`` and
  ``metrics()`` (a dict of pytorch-ignite metrics), and declares ``input_shape`` (one sample,
  without the batch dimension) unless the caller gives one (``torch``).

Distributed chains are checked link by link (``chain``). Framework imports are lazy: importing
this package imports neither TensorFlow nor PyTorch.
"""

from mlcode_executor.frameworks import FRAMEWORKS, normalize_framework
from mlcode_executor.usercode.build import build_model, describe_model, validate
from mlcode_executor.usercode.chain import check_chain
from mlcode_executor.usercode.errors import (
    CpuTimeLimit,
    SandboxLimit,
    UserCodeError,
    WallClockLimit,
)
from mlcode_executor.usercode.source import error_from_exception, run_user_code

__all__ = [
    "FRAMEWORKS",
    "CpuTimeLimit",
    "SandboxLimit",
    "UserCodeError",
    "WallClockLimit",
    "build_model",
    "check_chain",
    "describe_model",
    "error_from_exception",
    "normalize_framework",
    "run_user_code",
    "validate",
]
