"""RAW sink: each sample goes as its little-endian C-order bytes, each label as the key."""

from __future__ import annotations

from typing import Any

import numpy as np

from .codecs import _cast_checked, dtype_name, parse_dtype, parse_shape, shape_to_string
from .sink import KafkaMLSink


class _Part:
    """Format of the samples (or of the labels): declared up front or taken from the first one."""

    def __init__(self, what: str, type_: str | None, reshape: str | None):
        self.what = what
        self.dtype = parse_dtype(type_, what=f"{what}_type") if type_ else None
        self.shape = parse_shape(reshape, what=f"{what}_reshape")
        self.dtype_declared = self.dtype is not None
        self.shape_declared = self.shape is not None
        self.size = int(np.prod(self.shape)) if self.shape is not None else None
        # (shape, dtype) of the first accepted item: later items that match skip all checks.
        self.seen: tuple[tuple[int, ...], np.dtype] | None = None

    def check(self, arr: np.ndarray) -> np.ndarray:
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if self.seen is not None and arr.shape == self.seen[0] and arr.dtype == self.seen[1]:
            return arr
        name = "sample" if self.what == "data" else "label"
        if self.dtype is None:
            parse_dtype(arr.dtype, what=f"{self.what}_type")  # numeric only
            self.dtype = arr.dtype
        elif arr.dtype != self.dtype:
            if not self.dtype_declared:
                raise ValueError(
                    f"{name} has dtype {arr.dtype}, but the first {name} had dtype "
                    f"{self.dtype}: all {name}s of a stream must have the same dtype"
                )
            arr = _cast_checked(arr, self.dtype, self.what)
        if self.shape is None:
            self.shape = arr.shape
            self.size = arr.size
        elif self.shape_declared:
            if arr.size != self.size:
                raise ValueError(
                    f"{name} has shape {arr.shape} ({arr.size} values) but {self.what}_reshape "
                    f"{shape_to_string(self.shape)!r} needs {self.size} values"
                )
        elif arr.shape != self.shape:
            raise ValueError(
                f"{name} has shape {arr.shape}, but the first {name} had shape {self.shape}: "
                f"all {name}s of a stream must have the same shape"
            )
        if self.seen is None:
            self.seen = (arr.shape, arr.dtype)
        return arr

    def config(self) -> tuple[str | None, str]:
        return (
            dtype_name(self.dtype) if self.dtype is not None else None,
            shape_to_string(self.shape) if self.shape else "",
        )


class _RawFormat:
    """The data and label formats of a RAW stream."""

    def __init__(self, data_type, label_type, data_reshape, label_reshape):
        self.data = _Part("data", data_type, data_reshape)
        self.label = _Part("label", label_type, label_reshape)

    def input_config(self) -> dict[str, Any]:
        data_type, data_reshape = self.data.config()
        label_type, label_reshape = self.label.config()
        return {
            "data_type": data_type,
            "label_type": label_type,
            "data_reshape": data_reshape,
            "label_reshape": label_reshape,
        }


def _le(arr: np.ndarray) -> np.ndarray:
    """The array in little-endian byte order (a no-op on little-endian hosts)."""
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        return arr.astype(arr.dtype.newbyteorder("<"))
    return arr


_LITTLE = np.little_endian


class RawSink(KafkaMLSink):
    """Sink of RAW training data (NumPy arrays) to Kafka.

    Args (same names, order and defaults as the original Kafka-ML ``RawSink``):
        boostrap_servers / bootstrap_servers, topic, deployment_id,
        data_type, label_type: NumPy dtype names; taken from the first sample when ``None``.
        description,
        data_reshape, label_reshape: space-separated dimensions (``"28 28"``); taken from the
            first sample when ``None``.
        validation_rate, test_rate, control_topic, group_id: see :class:`KafkaMLSink`.

    Every sample must have the same shape and dtype (a different one raises ``ValueError``).
    Use :meth:`send_batch` for whole arrays: it is several times faster than a loop of
    :meth:`send`.
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        deployment_id: int | str | None = None,
        data_type: str | None = None,
        label_type: str | None = None,
        description: str = "",
        data_reshape: str | None = None,
        label_reshape: str | None = None,
        validation_rate: float = 0,
        test_rate: float = 0,
        control_topic: str | None = None,
        group_id: str = "sink",
        **kwargs: Any,
    ):
        self._format = _RawFormat(data_type, label_type, data_reshape, label_reshape)
        self._format_known = False  # True once a sample (and its label) has been accepted
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            "RAW",
            description,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kwargs,
        )
        self.input_config = self._format.input_config()

    # original attribute names
    @property
    def data_type(self) -> str | None:
        return self.input_config.get("data_type")

    @property
    def label_type(self) -> str | None:
        return self.input_config.get("label_type")

    @property
    def data_reshape(self) -> str | None:
        return self.input_config.get("data_reshape")

    @property
    def label_reshape(self) -> str | None:
        return self.input_config.get("label_reshape")

    def _first_sample_seen(self) -> None:
        """Hook for subclasses: called once the stream's format is known."""

    def send(self, data: Any, label: Any = None) -> None:
        """Send one sample (array-like) with its label (array-like or scalar, optional)."""
        self._check_open()
        fmt = self._format
        first = not self._format_known
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        seen = fmt.data.seen
        if seen is None or arr.shape != seen[0] or arr.dtype != seen[1]:
            arr = fmt.data.check(arr)
        if label is None:
            key = None
        else:
            lab = label if isinstance(label, np.ndarray) else np.asarray(label)
            lseen = fmt.label.seen
            if lseen is None or lab.shape != lseen[0] or lab.dtype != lseen[1]:
                if lseen is None:
                    first = True
                lab = fmt.label.check(lab)
            key = (lab if _LITTLE else _le(lab)).tobytes()
        if first:
            self.input_config = fmt.input_config()
            self._format_known = True
            self._first_sample_seen()
        self._produce_record((arr if _LITTLE else _le(arr)).tobytes(), key)

    def unsupervised_send(self, data: Any) -> None:
        """Send one unlabelled sample (same format as the labelled ones) to the
        ``unsupervised_topic``: semi-supervised training pseudo-labels it."""
        fmt = self._format
        arr = fmt.data.check(data if isinstance(data, np.ndarray) else np.asarray(data))
        if not self._format_known:
            self.input_config = fmt.input_config()
        self._produce_unsupervised((arr if _LITTLE else _le(arr)).tobytes())

    def send_batch(self, data: Any, labels: Any = None) -> None:
        """Send many samples at once: ``data`` has shape ``(N, *sample_shape)``, ``labels``
        ``(N, *label_shape)`` (or ``None``)."""
        self._check_open()
        arr = np.asarray(data)
        if arr.ndim == 0:
            raise ValueError("send_batch needs an array of samples (first dimension = samples)")
        n = len(arr)
        if n == 0:
            return
        fmt = self._format
        first_seen = not self._format_known
        fmt.data.check(arr[0])  # validates shape/dtype of every row (all rows share them)
        if arr.dtype != fmt.data.dtype:
            arr = _cast_checked(arr, fmt.data.dtype, "data")
        keys = None
        if labels is not None:
            lab = np.asarray(labels)
            if len(lab) != n:
                raise ValueError(f"{n} samples but {len(lab)} labels")
            fmt.label.check(lab[0])
            if lab.dtype != fmt.label.dtype:
                lab = _cast_checked(lab, fmt.label.dtype, "label")
            keys = _rows_as_bytes(_le(lab), n)
        self.input_config = fmt.input_config()
        self._format_known = True
        if first_seen:
            self._first_sample_seen()
        self._produce_many(_rows_as_bytes(_le(arr), n), keys)


def _rows_as_bytes(arr: np.ndarray, n: int) -> list[bytes]:
    """Split an (N, ...) array into N ``bytes`` objects (one per row), in one NumPy call."""
    rows = np.ascontiguousarray(arr).reshape(n, -1)
    width = rows.shape[1] * rows.dtype.itemsize
    if width == 0:
        return [b""] * n
    return rows.view(np.dtype((np.void, width))).reshape(n).tolist()
