"""The contract between the privileged training worker and the sandboxed trainer it starts.

One module for both sides (the wire format gets one encoder and one parser):

* the **input dir**, written by the worker only and bound read-only into the trainer's view:
  ``job.json`` (what to build and how to train) and the data as ``<name>-x.npy`` /
  ``<name>-y.npy`` (read memory-mapped: no copy, no pickle);
* the **job dir**, the trainer's own working directory (HOME, cwd): it writes the artifacts
  under ``out/<export>/<sub-model>/``;
* **commands** go to the trainer's stdin and **events** come back on its stdout, one JSON object
  per line. The trainer's own stdout is moved to stderr before user code runs, so ``print`` in
  model code lands in the log, not in the event stream.

The worker treats every event and every file under ``out/`` as hostile input: the trainer runs
the user's code.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_training.job import TrainingSettings

VERSION = 1
OUTPUT_DIR = "out"
JOB_FILE = "job.json"
MAX_LINE = 4 << 20  # longest event line the worker accepts

#: events: ready | epoch | done | error
EVENTS = ("ready", "epoch", "done", "error")
#: commands: fit | pseudo_label | evaluate | export | exit
COMMANDS = ("fit", "pseudo_label", "evaluate", "export", "exit")


class ProtocolError(ValueError):
    """A line that is not a well-formed event or command."""


def data_files(name: str) -> tuple[str, str]:
    """File names (in ``in/``) of a named array pair."""
    if not name.replace("-", "").isalnum():
        raise ProtocolError(f"bad data name {name!r}")
    return f"{name}-x.npy", f"{name}-y.npy"


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=_jsonable).encode() + b"\n"


def decode(line: bytes, kind: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Parse one ``kind`` ("event" or "cmd") line; raises ``ProtocolError``. ``allowed``: the
    names accepted (default ``EVENTS`` or ``COMMANDS``)."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"{kind} line of {len(line)} bytes")
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{kind} line is not JSON: {exc}") from None
    if allowed is None:
        allowed = EVENTS if kind == "event" else COMMANDS
    if not isinstance(message, dict) or message.get(kind) not in allowed:
        raise ProtocolError(f"not a {kind}: {str(line[:200])}")
    return message


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class ModelCode:
    name: str
    imports: str
    code: str


@dataclass(frozen=True)
class JobDescription:
    """``in/job.json``: everything the trainer needs, and nothing else (no credential, no
    address of the backend or the broker)."""

    framework: str
    models: tuple[ModelCode, ...]
    settings: TrainingSettings
    threads: int = 2
    log_level: str = "INFO"
    version: int = field(default=VERSION)

    def to_json(self) -> str:
        settings = asdict(self.settings)
        # literal text keeps what JSON cannot (tuples, integer dict keys such as class_weight)
        settings["kwargs_fit"] = repr(self.settings.kwargs_fit)
        settings["kwargs_val"] = repr(self.settings.kwargs_val)
        return json.dumps(
            {
                "version": self.version,
                "framework": self.framework,
                "models": [asdict(m) for m in self.models],
                "settings": settings,
                "threads": self.threads,
                "log_level": self.log_level,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> JobDescription:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ProtocolError(f"job.json version {data.get('version')!r}, expected {VERSION}")
        settings = dict(data["settings"])
        settings["kwargs_fit"] = ast.literal_eval(settings["kwargs_fit"])
        settings["kwargs_val"] = ast.literal_eval(settings["kwargs_val"])
        settings["metrics"] = tuple(settings.get("metrics") or ())
        return cls(
            framework=data["framework"],
            models=tuple(ModelCode(**m) for m in data["models"]),
            settings=TrainingSettings(**settings),
            threads=int(data.get("threads") or 2),
            log_level=str(data.get("log_level") or "INFO"),
        )

    @classmethod
    def read(cls, input_dir: Path) -> JobDescription:
        return cls.from_json((Path(input_dir) / JOB_FILE).read_text())
