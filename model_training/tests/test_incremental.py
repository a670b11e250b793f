"""Incremental deployments train on windows of an unbounded topic and publish versions."""

from __future__ import annotations

import threading
import time

import pytest

from datasources.raw_sink import RawSink
from model_training.job import ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import KERAS_CODE, KERAS_IMPORTS
from model_training.worker import TrainingWorker


@pytest.mark.django_db(transaction=True)
def test_incremental_publishes_versions_until_stopped(
    broker, user_topic, control_topic, control_logger, deployed, digits
):
    """The online control message reaches the worker as the backend's registered datasource."""
    from kafkaml.broker import ensure_topics

    images, labels = digits
    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, [user_topic, control_topic])
    job = TrainingJob(
        models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS),),
        settings=TrainingSettings(
            kwargs_fit={"epochs": 2},
            incremental=True,
            window_size=300,
            stream_timeout=3,
            monitoring_metric="val_loss",
            seed=5,
        ),
        deployment_id=deployed.id,
        result_id=deployed.result_id,
    )
    reporter = MemoryReporter()
    stop = threading.Event()
    worker = TrainingWorker(
        job, [reporter], bootstrap=bootstrap, backend=deployed.backend(), stop_event=stop
    )
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("status", worker.run()), daemon=True
    )
    thread.start()

    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=user_topic,
        deployment_id=deployed.id,
        data_type="uint8",
        label_type="uint8",
        data_reshape="8 8",
        validation_rate=0.2,
        control_topic=control_topic,
        incremental=True,
    )
    sink.send_online_control_msg()
    sink.send_batch(images[:900], labels[:900])
    sink.flush()
    deadline = time.monotonic() + 120
    while len(reporter.artifacts) < 2 and time.monotonic() < deadline and thread.is_alive():
        if len(reporter.epochs) >= 6 and len(reporter.artifacts) < 2:  # keep the stream going
            sink.send_batch(images[900:], labels[900:])
            sink.flush()
        time.sleep(0.5)
    stop.set()
    thread.join(60)
    sink.online_close()

    assert outcome.get("status") == "stopped", reporter.statuses
    assert [s for s, _ in reporter.statuses] == ["deployed", "stopped"]
    versions = [summary["version"] for _, summary in reporter.artifacts]
    assert versions[:2] == [1, 2]
    losses = [summary["monitored"]["val_loss"] for _, summary in reporter.artifacts]
    assert losses[1] < losses[0]
    assert [e for e, _ in reporter.epochs] == list(range(1, len(reporter.epochs) + 1))


def test_time_limited_run_finishes_after_stream_timeout_without_data(broker, digits):
    """A ``time_limited`` incremental run ends once no record came for ``stream_timeout``
    seconds: the result FINISHES with the versions it published (no stop needed)."""
    import uuid

    from kafkaml.broker import ensure_topics

    from model_training.job import DatasourceSpec

    images, labels = digits
    bootstrap = broker.bootstrap_servers
    topic = f"t-timelimited-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic])
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=1,
        data_type="uint8",
        label_type="uint8",
        data_reshape="8 8",
        validation_rate=0.2,
        incremental=True,
    )
    sink.send_batch(images[:600], labels[:600])
    sink.flush()
    job = TrainingJob(
        models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS),),
        settings=TrainingSettings(
            kwargs_fit={"epochs": 1},
            incremental=True,
            incremental_mode="time_limited",
            window_size=300,
            stream_timeout=2,
            seed=5,
        ),
        datasource=DatasourceSpec(
            topic=topic,
            input_format="RAW",
            input_config=sink.input_config,
            incremental=True,
            validation_rate=0.2,
        ),
    )
    reporter = MemoryReporter()
    started = time.monotonic()
    status = TrainingWorker(job, [reporter], bootstrap=bootstrap).run()
    took = time.monotonic() - started
    sink.close()

    assert status == "finished", reporter.error
    assert [s for s, _ in reporter.statuses] == ["deployed", "finished"]
    assert reporter.artifacts and reporter.artifacts[0][1]["version"] == 1
    assert len(reporter.epochs) == 2  # both windows trained on, then 2 s of silence
    assert took < 90
