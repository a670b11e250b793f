"""The privileged worker's handle on its sandboxed trainer (``model_training.sandboxed``).

The worker never imports or runs user code: it starts the trainer in the jail
(``mlcode_executor.jail.spawn``: own uid, no network, no credential, limits on the whole job),
hands it data as ``.npy`` files in a directory only it writes (bound read-only into the
trainer's view), and drives it with commands on its stdin while events come back on its stdout
(``model_training.protocol``). Everything the trainer says or writes is hostile input: events
are validated, artifacts are copied out of its directory without following links, with size
caps, into a directory of the worker's own before they are uploaded.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model_training import protocol
from model_training import settings as worker_settings
from model_training.errors import StopRequested, TrainingError
from model_training.job import TrainingJob

log = logging.getLogger(__name__)
child_log = logging.getLogger("model_training.trainer")

EpochCallback = Callable[[int, list[dict[str, float]]], None]
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_MAX_FILES = 32
_LOG_LINE = 4000  # longest trainer output line kept
_EOF = object()


class TrainerFailed(TrainingError):
    """The trainer reported an error (the user's code raised) or died."""


def _new_dir(prefix: str) -> Path:
    """A fresh private dir under the jail root (never under the data dir)."""
    from mlcode_executor.jail import new_job_dir

    return Path(new_job_dir(prefix))


def _metrics(value: Any, n: int, what: str) -> list[dict[str, float]]:
    """``n`` dicts of name -> number, or ``ProtocolError``."""
    if not isinstance(value, list) or len(value) != n:
        raise protocol.ProtocolError(f"{what}: expected {n} metric dicts")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise protocol.ProtocolError(f"{what}: not a dict")
        clean = {}
        for key, number in item.items():
            if not isinstance(key, str) or len(key) > 200:
                raise protocol.ProtocolError(f"{what}: bad metric name")
            if isinstance(number, bool) or not isinstance(number, int | float):
                continue
            clean[key] = float(number)
        out.append(clean)
    return out


def _matrices(value: Any, n: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != n:
        raise protocol.ProtocolError(f"expected {n} confusion matrices")
    out = []
    for matrix in value:
        if matrix is None:
            out.append(None)
            continue
        try:
            array = np.asarray(matrix, dtype=np.int64)
        except (TypeError, ValueError):
            raise protocol.ProtocolError("a confusion matrix is not integers") from None
        if array.ndim != 2 or array.shape[0] != array.shape[1] or array.size > 1 << 20:
            raise protocol.ProtocolError("a confusion matrix is not square")
        out.append(array.tolist())
    return out


def copy_artifacts(source_root: Path, parts: list[str], dest: Path, budget: list[int]) -> Path:
    """Copy the regular files of ``source_root/<parts>`` (written by the trainer) to ``dest``.

    Every path step is opened relative to the last with ``O_NOFOLLOW``: a link the trainer
    planted (to the database, to another job's files) is refused, never followed. Files with
    other hard links, FIFOs, devices and subdirectories are refused; ``budget[0]`` bytes in all.
    """
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(source_root, flags | os.O_DIRECTORY)
    try:
        for part in parts:
            nfd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        names = os.listdir(fd)
        if len(names) > _MAX_FILES:
            raise TrainingError(
                f"the trainer wrote {len(names)} files per model (max {_MAX_FILES})"
            )
        dest.mkdir(parents=True, exist_ok=False, mode=0o700)
        for name in sorted(names):
            if not _FILE_NAME.match(name):
                raise TrainingError(f"the trainer wrote a file with a bad name: {name[:100]!r}")
            try:
                src = os.open(name, flags | os.O_NONBLOCK, dir_fd=fd)
            except OSError as exc:
                raise TrainingError(f"artifact {name}: {exc.strerror}") from None
            try:
                st = os.fstat(src)
                if stat.S_ISDIR(st.st_mode):
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                    raise TrainingError(f"artifact {name} is not a plain file")
                if st.st_size > budget[0]:
                    raise TrainingError(
                        f"artifacts larger than {worker_settings.artifact_bytes() >> 20} MiB"
                    )
                budget[0] -= st.st_size
                with (
                    os.fdopen(os.dup(src), "rb") as reader,
                    open(dest / name, "xb") as writer,
                ):
                    shutil.copyfileobj(reader, writer, 1 << 20)
            finally:
                os.close(src)
    finally:
        os.close(fd)
    for required in ("metadata.json", "model.onnx"):
        if not (dest / required).is_file():
            raise TrainingError(f"the trainer exported no {required}")
    return dest


class TrainerProcess:
    """One sandboxed trainer for one run (kept across the windows of incremental training)."""

    #: the module the jail runs (``model_training.federated.sandboxed_site`` adds commands)
    module = "model_training.sandboxed"

    def __init__(
        self,
        job: TrainingJob,
        *,
        on_epoch: EpochCallback,
        should_stop: Callable[[], bool],
        limits: Any = None,
        staging_dir: Path | None = None,
    ) -> None:
        self.job = job
        self.n = len(job.models)
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        self.limits = limits if limits is not None else worker_settings.trainer_limits()
        self.staging_dir = staging_dir
        self.job_dir: Path | None = None
        self.input_dir: Path | None = None
        self.proc: Any = None
        self.ready: dict[str, Any] | None = None
        self.failure: TrainingError | None = None
        self.start_time: float | None = None  # spawn until ``ready``, seconds
        self.output: deque[str] = deque(maxlen=200)  # the trainer's last output lines
        self._output_lock = threading.Lock()
        self._events: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._ids = 0
        self._started_at = 0.0
        self._logged = 0

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the trainer; it imports the framework and builds the models meanwhile."""
        from mlcode_executor.jail import capabilities, spawn

        self.job_dir = _new_dir("training-")
        self.input_dir = _new_dir("training-in-")
        description = protocol.JobDescription(
            framework=self.job.framework,
            models=tuple(protocol.ModelCode(m.name, m.imports, m.code) for m in self.job.models),
            settings=self.job.settings,
            threads=worker_settings.threads(),
            log_level=os.environ.get("KAFKAML_LOG_LEVEL", "INFO"),
        )
        self._readable(self._input_path(protocol.JOB_FILE)).write_text(description.to_json())
        self._started_at = time.monotonic()
        self.proc = spawn(
            [
                "python",
                "-m",
                self.module,
                "--job-dir",
                str(self.job_dir),
                "--input-dir",
                str(self.input_dir),
            ],
            limits=self.limits,
            workdir=self.job_dir,
            readable=[self.input_dir],
            network=False,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_settings.trainer_env(),
        )
        log.info(
            "trainer started in %s (memory %s MiB, wall clock %s)",
            self.job_dir,
            self.limits.memory_mb,
            f"{self.limits.wall_s:.0f}s" if self.limits.wall_s else "none",
        )
        for target in (self._read_events, self._read_output):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)
        sandbox = capabilities()  # (probed while the trainer starts)
        if not sandbox.complete:  # the platform runs single-user then (docs/security.md)
            log.warning("the sandbox is incomplete here: %s", "; ".join(sandbox.missing))

    def __enter__(self) -> TrainerProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close(kill=exc_info[0] is not None)

    def close(self, *, kill: bool = False) -> None:
        """End the trainer (politely unless ``kill``) and remove its directories."""
        proc = self.proc
        try:
            if proc is not None and not kill and proc.poll() is None:
                try:
                    self._send({"cmd": "exit"})
                    proc.stdin.close()
                except OSError:
                    pass
                proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.warning("the trainer did not exit: killing it")
        finally:  # a stop arriving meanwhile must not leave the job or its files behind
            if proc is not None:
                if proc.returncode is None:
                    self.kill()
                for thread in self._threads:
                    thread.join(timeout=5)
                for stream in (proc.stdin, proc.stdout, proc.stderr):
                    try:
                        stream.close()
                    except (OSError, ValueError):
                        pass
            for path in (self.job_dir, self.input_dir):
                if path is not None:
                    shutil.rmtree(path, ignore_errors=True)

    def kill(self) -> None:
        """Kill the trainer's whole job (every process it started)."""
        if self.proc is None:
            return
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.error("the trainer did not end after SIGKILL")

    # -- data -------------------------------------------------------------------------------
    def _input_path(self, name: str) -> Path:
        assert self.input_dir is not None, "start() first"
        return self.input_dir / name

    @staticmethod
    def _readable(path: Path) -> Path:
        """Files the trainer reads are 0644 whatever the platform's umask (the dir is private
        to the job; the trainer's view of it is read-only)."""
        path.touch(mode=0o644)
        os.chmod(path, 0o644)
        return path

    def data_path(self, name: str) -> Path:
        """Where ``x`` of data set ``name`` goes: ``read_ranges`` can fill it in place."""
        return self._input_path(protocol.data_files(name)[0])

    def put(self, name: str, x: np.ndarray, y: np.ndarray) -> None:
        """Make ``x``, ``y`` readable to the trainer as data set ``name`` (no copy when ``x``
        is already the memory-mapped file at :meth:`data_path`)."""
        fx, fy = (self._input_path(f) for f in protocol.data_files(name))
        if isinstance(x, np.memmap) and Path(str(x.filename)).resolve() == fx.resolve():
            x.flush()
        else:
            np.save(self._readable(fx), np.ascontiguousarray(x), allow_pickle=False)
        np.save(self._readable(fy), np.ascontiguousarray(y), allow_pickle=False)
        os.chmod(fx, 0o644)

    def drop(self, name: str) -> None:
        for f in protocol.data_files(name):
            try:
                os.unlink(self._input_path(f))
            except OSError:
                pass

    # -- events -----------------------------------------------------------------------------
    def _read_events(self) -> None:
        stream = self.proc.stdout
        try:
            while True:
                line = stream.readline(protocol.MAX_LINE + 1)
                if not line:
                    break
                try:
                    self._events.put(protocol.decode(line, "event"))
                except protocol.ProtocolError as exc:
                    self._events.put(exc)
                    break
        except (OSError, ValueError) as exc:
            log.debug("event pipe: %s", exc)
        self._events.put(_EOF)

    def _read_output(self) -> None:
        """The trainer's stderr (its log, and the user's prints) into the worker's log."""
        cap = worker_settings.trainer_log_bytes()
        stream = self.proc.stderr
        try:
            while raw := stream.readline(_LOG_LINE):  # a line without end is cut, not hoarded
                text = raw.decode("utf-8", "replace").rstrip()
                with self._output_lock:
                    self.output.append(text)
                self._logged += len(text)
                if self._logged <= cap:
                    child_log.info("%s", text)
                elif self._logged - len(text) <= cap:
                    child_log.warning("trainer output over %d bytes: no longer logged", cap)
        except (OSError, ValueError):
            pass

    def output_lines(self) -> list[str]:
        with self._output_lock:
            return list(self.output)

    def _exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return "the trainer closed its event pipe (it was killed)"
        limits = self.limits
        if getattr(self.proc, "timed_out", False):
            return f"the trainer ran out of time (wall clock {limits.wall_s:.0f}s)"
        if getattr(self.proc, "oom_killed", False):
            return (
                f"the trainer ran out of memory (the job may use {limits.memory_mb} MiB; "
                "KAFKAML_TRAINING_MEMORY_MB)"
            )
        sig = -code if code is not None and code < 0 else None
        if sig is None and code is not None and code > 128:
            sig = code - 128
        if sig == signal.SIGKILL:
            return (
                "the trainer was killed (SIGKILL): out of memory "
                f"({limits.memory_mb} MiB allowed) or killed from outside"
            )
        if sig == signal.SIGXCPU:
            return f"the trainer used up its CPU time ({limits.cpu_s}s)"
        if sig == signal.SIGXFSZ:
            return f"the trainer wrote a file over {limits.output_bytes >> 20} MiB"
        if sig is not None:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            return f"the trainer crashed ({name})"
        return f"the trainer exited unexpectedly (exit code {code})"

    def _fail(self, error: TrainingError) -> TrainingError:
        self.failure = error
        return error

    def _handle(self, item: Any) -> dict[str, Any] | None:
        """Process one queued event; returns it when it answers a request or says ready."""
        if item is _EOF:
            reason = self._exit_reason()
            for thread in self._threads:  # its last words may still be in the stderr pipe
                thread.join(timeout=2)
            tail = [line for line in self.output_lines() if line.strip()][-3:]
            detail = f"; last output: {' | '.join(tail)[-1500:]}" if tail else ""
            raise self._fail(TrainerFailed(reason + detail))
        if isinstance(item, protocol.ProtocolError):
            self.kill()
            raise self._fail(TrainerFailed(f"the trainer broke the protocol: {item}"))
        kind = item["event"]
        if kind == "epoch":
            try:
                epoch = int(item["epoch"])
                per_model = _metrics(item.get("metrics"), self.n, "epoch metrics")
            except (KeyError, TypeError, ValueError) as exc:
                self.kill()
                raise self._fail(TrainerFailed(f"the trainer broke the protocol: {exc}")) from None
            self.on_epoch(epoch, per_model)
            return None
        if kind == "error":
            message = str(item.get("message") or "the trainer failed")[:8000]
            trace = str(item.get("traceback") or "").rstrip()
            if trace:
                child_log.error("%s", trace[-8000:])
            raise self._fail(TrainerFailed(message))
        if kind == "ready":
            self.ready = item
            self.start_time = time.monotonic() - self._started_at
            log.info("trainer ready in %.2fs", self.start_time)
        return item

    def _next(self, timeout: float) -> Any:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def healthy(self) -> bool:
        """False once the trainer failed (checked without blocking, e.g. while the worker
        waits for the control message: broken model code fails the run at once)."""
        if self.failure is not None:
            return False
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return True
            try:
                self._handle(item)
            except TrainingError:
                return False

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def wait_ready(self) -> None:
        self._wait(lambda event: event["event"] == "ready" or None)

    def _wait(self, answers: Callable[[dict], Any]) -> dict[str, Any]:
        self.raise_failure()
        if self.ready is not None and answers({"event": "ready"}):
            return self.ready
        while True:
            if self.should_stop():
                raise StopRequested()
            item = self._next(0.2)
            if item is None:
                continue
            event = self._handle(item)
            if event is not None and answers(event):
                return event

    def _send(self, command: dict[str, Any]) -> None:
        self.proc.stdin.write(protocol.encode(command))
        self.proc.stdin.flush()

    def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send a command and wait for its answer, relaying epoch events meanwhile."""
        self.wait_ready()
        self._ids += 1
        request = self._ids
        try:
            self._send({"cmd": cmd, "id": request, **fields})
        except OSError:
            pass  # it died: the event reader reports how
        return self._wait(lambda e: e["event"] == "done" and e.get("id") == request)

    # -- commands ---------------------------------------------------------------------------
    def fit(
        self, data: str, train: tuple[int, int], val: tuple[int, int] | None, epoch_offset: int = 0
    ) -> tuple[list[dict[str, float]], float]:
        """Train on rows ``train`` (validate on ``val``) of data set ``data``."""
        done = self.call("fit", data=data, train=train, val=val, epoch_offset=epoch_offset)
        try:
            return _metrics(done.get("last"), self.n, "fit"), float(done.get("training_time"))
        except (protocol.ProtocolError, TypeError, ValueError) as exc:
            raise self._fail(TrainerFailed(f"the trainer broke the protocol: {exc}")) from None

    def pseudo_label(
        self,
        data: str,
        train: tuple[int, int],
        val: tuple[int, int] | None,
        unlabelled: str,
        *,
        rounds: int,
        threshold: float,
        epoch_offset: int = 0,
    ) -> tuple[list[dict[str, float]], list[dict[str, Any]], float]:
        """Semi-supervised rounds in the trainer (see ``sandboxed.Trainer.pseudo_label``):
        the last metrics (empty when no sample was confident enough), per round the number
        of pseudo-labelled samples and the metrics after the round's fit, and the training
        time."""
        done = self.call(
            "pseudo_label",
            data=data,
            train=train,
            val=val,
            unlabelled=unlabelled,
            rounds=int(rounds),
            threshold=float(threshold),
            epoch_offset=epoch_offset,
        )
        try:
            raw = done.get("last") or []
            last = _metrics(raw, self.n, "pseudo_label") if raw else []
            rounds_done = [
                {
                    "round": int(r["round"]),
                    "pseudo_labelled": int(r["pseudo_labelled"]),
                    "metrics": {str(k): float(v) for k, v in (r.get("metrics") or {}).items()},
                }
                for r in done.get("rounds") or []
            ]
            return last, rounds_done, float(done.get("training_time"))
        except (protocol.ProtocolError, TypeError, ValueError, KeyError) as exc:
            raise self._fail(TrainerFailed(f"the trainer broke the protocol: {exc}")) from None

    def evaluate(
        self, data: str, test: tuple[int, int], confusion_matrix: bool
    ) -> tuple[list[dict[str, float]], list[Any]]:
        done = self.call("evaluate", data=data, test=test, confusion_matrix=confusion_matrix)
        try:
            return _metrics(done.get("metrics"), self.n, "evaluate"), _matrices(
                done.get("matrices"), self.n
            )
        except protocol.ProtocolError as exc:
            raise self._fail(TrainerFailed(f"the trainer broke the protocol: {exc}")) from None

    def export(
        self,
        data: str,
        sample: tuple[int, int],
        *,
        version: int,
        input_format: str,
        input_config: dict,
        extras: list[dict],
        representative: tuple[int, int] | None = None,
        test: tuple[int, int] | None = None,
    ) -> tuple[Path, list[Path]]:
        """Export every sub-model; returns a worker-private dir (the caller removes it) and the
        copied artifact directory of each sub-model, edge first. ``representative`` (training
        rows) calibrates the int8 TensorFlow Lite model, evaluated with the float one on
        ``test``."""
        name = f"v{version}-{secrets.token_hex(4)}"
        self.call(
            "export",
            data=data,
            sample=sample,
            representative=representative,
            test=test,
            name=name,
            version=version,
            input_format=input_format,
            input_config=input_config,
            extras=extras,
        )
        base = Path(tempfile.mkdtemp(prefix="kafkaml-export-", dir=self.staging_dir))
        budget = [worker_settings.artifact_bytes()]
        try:
            out = self.job_dir / protocol.OUTPUT_DIR
            dirs = [
                copy_artifacts(out, [name, str(i)], base / str(i), budget) for i in range(self.n)
            ]
        except (OSError, TrainingError) as exc:
            shutil.rmtree(base, ignore_errors=True)
            if isinstance(exc, TrainingError):
                raise
            raise TrainingError(f"the trainer's export could not be read: {exc}") from None
        shutil.rmtree(out / name, ignore_errors=True)
        return base, dirs
