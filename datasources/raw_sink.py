"""RAW sink: each sample goes as its little-endian C-order bytes, each label as the key."""

from __future__ import annotations

from typing import Any

import numpy as np

from .codecs import _cast_checked, dtype_name, parse_dtype, parse_shape, shape_to_string
from .sink import KafkaMLSink


class _RawFormat:
    """The data/label format of a RAW stream: declared up front or taken from the first sample."""

    def __init__(self, data_type, label_type, data_reshape, label_reshape):
        self.data_dtype = parse_dtype(data_type, what="data_type") if data_type else None
        self.label_dtype = parse_dtype(label_type, what="label_type") if label_type else None
        self.data_shape = parse_shape(data_reshape, what="data_reshape")
        self.label_shape = parse_shape(label_reshape, what="label_reshape")
        self.data_size = int(np.prod(self.data_shape)) if self.data_shape is not None else None
        self.label_size = int(np.prod(self.label_shape)) if self.label_shape is not None else None
        # Once the first sample is seen, these hold its exact shape/dtype (fast path).
        self.seen_data: tuple[tuple[int, ...], np.dtype] | None = None
        self.seen_label: tuple[tuple[int, ...], np.dtype] | None = None

    def check_data(self, arr: np.ndarray) -> np.ndarray:
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if self.seen_data is not None:
            shape, dtype = self.seen_data
            if arr.shape == shape and arr.dtype == dtype:
                return arr
            if self.data_dtype is None or self.data_shape is None:
                # Inferred format: later samples must look exactly like the first.
                raise ValueError(
                    f"sample has shape {arr.shape} and dtype {arr.dtype}, but the first sample "
                    f"had shape {shape} and dtype {dtype}; all samples of a stream must match"
                )
        if self.data_dtype is None:
            self.data_dtype = arr.dtype.newbyteorder("=")
            parse_dtype(self.data_dtype)  # numeric only
        else:
            arr = _cast_checked(arr, self.data_dtype, "data")
        if self.data_shape is None:
            self.data_shape = arr.shape
            self.data_size = arr.size
        elif arr.size != self.data_size:
            raise ValueError(
                f"sample has shape {arr.shape} ({arr.size} values) but data_reshape "
                f"{shape_to_string(self.data_shape)!r} needs {self.data_size} values"
            )
        if self.seen_data is None:
            self.seen_data = (arr.shape, arr.dtype)
        return arr

    def check_label(self, arr: np.ndarray) -> np.ndarray:
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if self.seen_label is not None:
            shape, dtype = self.seen_label
            if arr.shape == shape and arr.dtype == dtype:
                return arr
            if self.label_dtype is None or self.label_shape is None:
                raise ValueError(
                    f"label has shape {arr.shape} and dtype {arr.dtype}, but the first label "
                    f"had shape {shape} and dtype {dtype}; all labels of a stream must match"
                )
        if self.label_dtype is None:
            self.label_dtype = arr.dtype.newbyteorder("=")
            parse_dtype(self.label_dtype, what="label_type")
        else:
            arr = _cast_checked(arr, self.label_dtype, "label")
        if self.label_shape is None:
            self.label_shape = arr.shape
            self.label_size = arr.size
        elif arr.size != self.label_size:
            raise ValueError(
                f"label has {arr.size} values but label_reshape "
                f"{shape_to_string(self.label_shape)!r} needs {self.label_size}"
            )
        if self.seen_label is None:
            self.seen_label = (arr.shape, arr.dtype)
        return arr

    def input_config(self) -> dict[str, Any]:
        return {
            "data_type": dtype_name(self.data_dtype) if self.data_dtype is not None else None,
            "label_type": dtype_name(self.label_dtype) if self.label_dtype is not None else None,
            "data_reshape": shape_to_string(self.data_shape) if self.data_shape else "",
            "label_reshape": shape_to_string(self.label_shape) if self.label_shape else "",
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
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        seen = fmt.seen_data
        if seen is None or arr.shape != seen[0] or arr.dtype != seen[1]:
            arr = fmt.check_data(arr)
            if seen is None:
                self.input_config = fmt.input_config()
        if label is None:
            key = None
        else:
            lab = label if isinstance(label, np.ndarray) else np.asarray(label)
            lseen = fmt.seen_label
            if lseen is None or lab.shape != lseen[0] or lab.dtype != lseen[1]:
                lab = fmt.check_label(lab)
                if lseen is None:
                    self.input_config = fmt.input_config()
            key = (lab if _LITTLE else _le(lab)).tobytes()
        if seen is None:
            self._first_sample_seen()
        self._produce_record((arr if _LITTLE else _le(arr)).tobytes(), key)

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
        first_seen = fmt.seen_data is None
        fmt.check_data(arr[0])  # validates shape/dtype of every row (all rows share them)
        if arr.dtype != fmt.data_dtype:
            arr = _cast_checked(arr, fmt.data_dtype, "data")
        keys = None
        if labels is not None:
            lab = np.asarray(labels)
            if len(lab) != n:
                raise ValueError(f"{n} samples but {len(lab)} labels")
            fmt.check_label(lab[0])
            if lab.dtype != fmt.label_dtype:
                lab = _cast_checked(lab, fmt.label_dtype, "label")
            keys = _rows_as_bytes(_le(lab), n)
        self.input_config = fmt.input_config()
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
