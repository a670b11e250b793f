"""Scripts written for the original Kafka-ML's sink calls run unchanged against a real platform.

Each script in ``scripts/`` is what a user of the original wrote (the original's module paths
``datasources.online_raw_sink``, ``datasources.raw_sink``, ``datasources.federated_raw_sink``,
``datasources.federated_online_raw_sink``, its constructor arguments, ``send``, ``unsupervised_send``, ``close``); it runs as its own process against a real ``kafkaml up``
(local launcher, embedded broker), and the test checks that the platform trained on exactly what
the script sent:

- ``OnlineRawSink``: an incremental (time-limited) deployment reads the script's records in one
  window (the window size is the number of samples sent), publishes a version and finishes;
- ``RawSink.unsupervised_send``: a semi-supervised deployment reads every unlabelled sample from
  the unsupervised topic and its result reports the pseudo-labelling rounds;
- ``FederatedRawSink``: two sites' scripts feed a federated deployment; every round trains on
  both sites, each registered with exactly the samples its script sent;
- ``OnlineFederatedRawSink``: an online site's script feeds a federated deployment; its site
  worker trains each round on one window of the stream (the deployment's ``window_size``), and
  the rounds count exactly the samples the script sent.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e_platform.harness import clean_env, local_platform
from tests.e2e_platform.test_journey import CODE, FINAL, IMPORTS, poll

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).with_name("scripts")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with local_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


def run_script(name: str, *args) -> str:
    """The user's script, unchanged, as its own process (from the repository root, where the
    original's examples ran beside their ``datasources`` folder)."""
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def deploy(platform, tag: str, **settings) -> tuple[int, int]:
    """A deployment of the small Keras digits model: its id and its result's."""
    deployment = platform.deploy(
        f"digits-{tag}", "tensorflow", IMPORTS, CODE, batch_size=32, **settings
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    return deployment["id"], result_id


def datasource_of(platform, deployment_id: int, topic: str | None = None) -> dict:
    """The deployment's datasource (on ``topic`` when given), once registered."""

    def registered():
        listed = platform.api("GET", "datasources/")
        listed = listed["results"] if isinstance(listed, dict) else listed
        return [
            d
            for d in listed
            if d["deployment"] == deployment_id
            and (topic is None or d["topic"].split(":")[0] == topic)
        ]

    return poll(registered, bool, timeout=60)[0]


def finished(platform, result_id: int, timeout: float) -> dict:
    result = poll(
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=timeout,
    )
    assert result["status"] == "finished", (result["status"], result["error"], result["log_tail"])
    return result


def test_online_raw_sink_script_feeds_an_incremental_deployment(platform):
    samples, epochs = 400, 3
    tag = uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    topic = f"{prefix}online-{tag}"
    deployment_id, result_id = deploy(
        platform,
        tag,
        training_kwargs=f"epochs={epochs}",
        incremental=True,
        incremental_mode="time_limited",
        stream_timeout=15,
        window_size=samples,  # the whole stream is one window
    )

    out = run_script("online_digits.py", platform.bootstrap_servers, topic, deployment_id, samples)
    assert f"sent {samples} samples" in out

    source = datasource_of(platform, deployment_id)
    assert source["topic"] == topic and source["incremental"] is True
    assert source["input_config"]["data_reshape"] == "8 8"

    result = finished(platform, result_id, timeout=180)
    assert len(result["epoch_metrics"]) == epochs
    assert [a["version"] for a in result["artifacts"]] == [1]
    assert result["artifacts"][0]["metrics"]["window"] == 1
    logs = platform.api("GET", f"results/{result_id}/logs/")["logs"]
    # exactly the records the script sent, in one window
    assert f"window 1: {samples} records" in logs, logs
    assert f"after 1 windows, {samples} records, 1 versions" in logs, logs


def test_unsupervised_send_script_feeds_pseudo_labelling(platform):
    labelled, unlabelled, rounds, epochs = 400, 900, 2, 25
    tag = uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    topic, unsupervised = f"{prefix}semi-{tag}", f"{prefix}semi-u-{tag}"
    deployment_id, result_id = deploy(
        platform,
        tag,
        training_kwargs=f"epochs={epochs}",
        unsupervised_rounds=rounds,
        confidence_threshold=0.5,
        seed=1,
    )

    out = run_script(
        "unsupervised_digits.py",
        platform.bootstrap_servers,
        topic,
        unsupervised,
        deployment_id,
        labelled,
        unlabelled,
    )
    assert f"sent {labelled} labelled and {unlabelled} unlabelled" in out

    source = datasource_of(platform, deployment_id)
    assert source["unsupervised_topic"] == unsupervised
    assert source["total_msg"] == labelled

    result = finished(platform, result_id, timeout=240)
    logs = platform.api("GET", f"results/{result_id}/logs/")["logs"]
    # every unlabelled sample the script sent, and nothing else, went to pseudo-labelling
    assert f"pseudo-labelling with {unlabelled} unlabelled samples from {unsupervised}" in logs
    shown = result["pseudo_labelling"]
    assert [r["round"] for r in shown] == list(range(1, rounds + 1)), shown
    assert all(0 < r["pseudo_labelled"] <= unlabelled for r in shown), shown
    assert all(0 <= r["accuracy"] <= 1 for r in shown), shown
    assert len(result["epoch_metrics"]) == epochs * (rounds + 1)


def deploy_federated(platform, name: str, rounds: int, sites: int, **settings):
    """A FedAvg deployment of the example's small PyTorch digits model (one local epoch per
    round) waiting for ``sites`` sites: the deployment and its result's id."""
    from examples.digits_federated import TORCH_CODE, TORCH_IMPORTS

    deployment = platform.deploy(
        name,
        "pytorch",
        TORCH_IMPORTS,
        TORCH_CODE,
        batch_size=32,
        training_kwargs="epochs=1",
        federated={
            "rounds": rounds,
            "strategy": "fedavg",
            "expected_sites": sites,
            "min_data": 100,
            "round_timeout_s": 60,
            "join_timeout_s": 120,
        },
        **settings,
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    return deployment, result_id


def test_federated_raw_sink_scripts_feed_a_federated_deployment(platform):
    """Two sites, each running the original's ``FederatedRawSink`` script on its own digits:
    the platform's federated deployment trains every round on both sites' data."""
    rounds, tag = 2, uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    deployment, result_id = deploy_federated(platform, f"fed-{tag}", rounds, sites=2)

    sent = {}
    for site, labels in (("a", "0,1,2,3,4,5,6"), ("b", "3,4,5,6,7,8,9")):
        topic = f"{prefix}fed-{tag}-{site}"
        out = run_script(
            "federated_digits.py", platform.bootstrap_servers, topic, deployment["id"], labels
        )
        sent[topic] = int(out.split()[1])

    result = finished(platform, result_id, timeout=180)
    epochs = result["epoch_metrics"]
    assert [(e["round"], e["rounds"], e["sites"]) for e in epochs] == [
        (k, rounds, 2) for k in range(1, rounds + 1)
    ]
    sources = [datasource_of(platform, deployment["id"], topic) for topic in sent]
    # each site registered exactly what its script sent, with its restrictions
    for source, count in zip(sources, sent.values(), strict=True):
        assert source["total_msg"] == count, (source, count)
        assert source["dataset_restrictions"]["labels"]
    federation = result["artifacts"][0]["metrics"]["federated"]
    assert sorted(federation["sites"]) == sorted(f"datasource-{s['id']}" for s in sources)


def test_online_federated_raw_sink_script_feeds_a_federated_deployment(platform):
    """An online site running the original's ``OnlineFederatedRawSink`` script: the platform's
    site worker trains round 1 on the stream's first window and round 2 on the next one."""
    rounds, window, samples, tag = 2, 150, 300, uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    deployment, result_id = deploy_federated(
        platform,
        f"fed-online-{tag}",
        rounds,
        sites=1,
        window_size=window,  # one round's window of the online stream
    )

    topic = f"{prefix}fed-online-{tag}"
    out = run_script(
        "online_federated_digits.py", platform.bootstrap_servers, topic, deployment["id"], samples
    )
    assert f"sent {samples} samples" in out

    source = datasource_of(platform, deployment["id"], topic)
    assert source["incremental"] is True and source["topic"] == topic
    assert source["dataset_restrictions"] == {"labels": list(range(10))}

    result = finished(platform, result_id, timeout=180)
    epochs = result["epoch_metrics"]
    # each round trained on one window: the script's samples, counted once each
    assert [(e["round"], e["rounds"], e["sites"], e["samples"]) for e in epochs] == [
        (k, rounds, 1, window) for k in range(1, rounds + 1)
    ], epochs
    site = f"datasource-{source['id']}"
    federation = result["artifacts"][0]["metrics"]["federated"]
    assert federation["sites"] == [site]
    assert federation["samples"] == {site: window}  # announced: its first window
    assert federation["round_samples"] == [{site: window}] * rounds
