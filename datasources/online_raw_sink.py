"""Online (incremental) RAW sink: an unbounded stream that training consumes in windows."""

from __future__ import annotations

from typing import Any

from .raw_sink import RawSink


class OnlineRawSink(RawSink):
    """RAW sink for an unbounded stream.

    The control message announces the bare topic with ``incremental: true``. It is sent as soon
    as the format is known: at construction when ``data_type`` (and so the format) is given,
    otherwise right after the first sample, so training can start while data keeps flowing.
    ``close()`` (or ``online_close()``) flushes and sends nothing more.

    Args (original names and order): boostrap_servers / bootstrap_servers, topic,
    deployment_id, data_type, label_type, description, data_reshape, label_reshape,
    control_topic, group_id; keywords ``validation_rate`` and ``test_rate`` (default 0).
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
        control_topic: str | None = None,
        group_id: str = "sink",
        *,
        validation_rate: float = 0,
        test_rate: float = 0,
        **kwargs: Any,
    ):
        kwargs.setdefault("incremental", True)
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            data_type,
            label_type,
            description,
            data_reshape,
            label_reshape,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kwargs,
        )
        self.incremental = True
        if data_type is not None:
            self.send_control_message()

    def _first_sample_seen(self) -> None:
        if self.control_message is None:
            self.send_control_message()

    def close(self, timeout: float = 300) -> dict[str, Any] | None:
        """Flush what was sent; the control message went out when the format was known."""
        if self._closed:
            return self.control_message
        self._closed = True
        self.flush(timeout)
        self._release()
        return self.control_message

    def online_close(self) -> None:
        self.close()
