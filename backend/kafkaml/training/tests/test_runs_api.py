"""Experiment tracking: the runs table, tags and notes, model versions and provenance,
re-runs, and the bounded serving history."""

import pytest

from kafkaml.training.tests.test_worker_api import METADATA, control, upload

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_CODE = """model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(10, activation="softmax"),
])"""


@pytest.fixture
def executor_ok(monkeypatch):
    """Model code counts as valid (the executor itself is tested in catalog/tests)."""
    from kafkaml.catalog import executor_client

    def validate_model(**kwargs):
        return {"ok": True, "result": {"inputs": [{"shape": [None, 8, 8]}], "outputs": []}}

    monkeypatch.setattr(executor_client, "validate_model", validate_model)


def finish(training_client, result_id, **metrics):
    summary = {
        "test_metrics": metrics,
        "training_time": metrics.pop("time", 1.0),
        "seed": 1234,
    }
    assert upload(training_client(result_id), result_id, summary=summary).status_code == 201


@pytest.fixture
def three_runs(make_model, make_deployment, training_client):
    """Three finished runs: (accuracy, loss, batch size, epochs) differ."""
    ids = []
    for acc, loss, batch, epochs in [(0.8, 0.5, 16, 2), (0.95, 0.2, 64, 5), (0.9, 0.3, 32, 3)]:
        deployment = make_deployment(batch_size=batch, training_kwargs={"epochs": epochs})
        result_id = deployment["results"][0]["id"]
        finish(training_client, result_id, accuracy=acc, loss=loss)
        ids.append(result_id)
    return ids


def test_runs_table_sorts_by_metrics_and_parameters(client, three_runs):
    def order(ordering):
        page = client.get(f"/api/v1/runs/?ordering={ordering}").json()
        return [row["id"] for row in page["results"]]

    low, high, mid = three_runs
    assert order("-test_accuracy") == [high, mid, low]
    assert order("test_loss") == [high, mid, low]
    assert order("batch_size") == [low, mid, high]
    assert order("-epochs") == [high, mid, low]
    row = client.get("/api/v1/runs/?ordering=id").json()["results"][0]
    assert row["test_accuracy"] == 0.8 and row["test_loss"] == 0.5
    assert row["batch_size"] == 16 and row["epochs"] == 2 and row["framework"] == "tensorflow"
    assert row["model_version"] == 1 and row["training_time"] == 1.0 and row["seed"] == 1234


def test_runs_table_is_paginated_and_owner_scoped(client, other_client, three_runs):
    page = client.get("/api/v1/runs/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert other_client.get("/api/v1/runs/").json()["count"] == 0


def test_tags_and_note_are_edited_by_the_owner_only(client, other_client, three_runs):
    low, high, mid = three_runs
    url = f"/api/v1/results/{high}/"
    response = client.patch(url, {"tags": ["best", "lr-sweep", "best"]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["tags"] == ["best", "lr-sweep"]
    response = client.patch(url, {"note": "wider dense layer"}, format="json")
    assert response.json()["note"] == "wider dense layer"
    assert response.json()["tags"] == ["best", "lr-sweep"]  # PATCH leaves the rest
    assert other_client.patch(url, {"note": "mine"}, format="json").status_code == 404
    assert client.get(url).json()["note"] == "wider dense layer"
    bad = client.patch(url, {"tags": ['a"b']}, format="json")
    assert bad.status_code == 400 and "tags.0" in bad.json()["errors"]
    # only tags and note change: a status in the body is ignored
    client.patch(url, {"status": "failed"}, format="json")
    assert client.get(url).json()["status"] == "finished"


def test_runs_filter_by_tag_status_and_search(client, three_runs):
    low, high, mid = three_runs
    client.patch(f"/api/v1/results/{high}/", {"tags": ["best", "sweep"]}, format="json")
    client.patch(f"/api/v1/results/{mid}/", {"tags": ["sweep"], "note": "Dropout"}, format="json")

    def ids(query):
        return sorted(r["id"] for r in client.get(f"/api/v1/runs/?{query}").json()["results"])

    assert ids("tag=sweep") == sorted([high, mid])
    assert ids("tag=best") == [high]
    assert ids("tag=bes") == []  # a whole tag, not a part of one
    assert ids("search=dropout") == [mid]
    assert ids("status=finished") == sorted(three_runs)
    assert ids("framework=pytorch") == []
    assert ids("min_test_accuracy=0.9") == sorted([high, mid])


def test_editing_a_trained_model_adds_a_version_and_results_keep_theirs(
    client, executor_ok, make_model, make_deployment, training_client
):
    model = make_model("digits")
    first = make_deployment([model])["results"][0]["id"]
    finish(training_client, first, accuracy=0.9)
    url = f"/api/v1/models/{model.pk}/"
    assert client.get(url).json()["version"] == 1

    response = client.patch(url, {"code": OTHER_CODE}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == model.pk and response.json()["version"] == 2

    versions = client.get(url + "versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["code"] == OTHER_CODE and versions[1]["result_count"] == 1
    old = client.get(f"/api/v1/results/{first}/").json()
    assert old["model_version"] == 1
    assert old["provenance"]["model_version"]["code"] != OTHER_CODE

    second = make_deployment([model])["results"][0]["id"]
    assert client.get(f"/api/v1/results/{second}/").json()["model_version"] == 2
    worker = training_client(second).get(f"/api/v1/worker/results/{second}/").json()
    assert worker["model"]["code"] == OTHER_CODE and worker["model"]["version"] == 2

    # a version no result has used yet is edited in place (no version per keystroke)
    client.patch(url, {"description": "same code"}, format="json")
    assert client.get(url).json()["version"] == 2
    assert client.get(url + "versions/").status_code == 200
    assert [v["number"] for v in client.get(url + "versions/").json()] == [2, 1]


def test_a_version_nobody_trained_with_is_updated_in_place(client, executor_ok, make_model):
    model = make_model("fresh")
    url = f"/api/v1/models/{model.pk}/"
    assert client.patch(url, {"code": OTHER_CODE}, format="json").status_code == 200
    versions = client.get(url + "versions/").json()
    assert [v["number"] for v in versions] == [1] and versions[0]["code"] == OTHER_CODE


def test_provenance_names_code_datasource_settings_and_seed(
    client, control_logger_client, make_deployment, training_client
):
    deployment = make_deployment(
        batch_size=8, training_kwargs={"epochs": 4}, optimizer="sgd", learning_rate=0.01
    )
    result_id = deployment["results"][0]["id"]
    registered = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 7), format="json"
    ).json()
    finish(training_client, result_id, accuracy=0.7)
    provenance = client.get(f"/api/v1/results/{result_id}/").json()["provenance"]
    assert provenance["model_version"]["number"] == 1
    assert "tf.keras.Sequential" in provenance["model_version"]["code"]
    assert provenance["datasource"]["id"] == registered["id"]
    settings = provenance["settings"]
    assert settings["batch_size"] == 8 and settings["training_kwargs"] == {"epochs": 4}
    assert settings["optimizer"] == "sgd" and settings["learning_rate"] == 0.01
    assert provenance["seed"] == 1234


def test_rerun_repeats_the_configuration_on_the_same_datasource(
    client,
    other_client,
    executor_ok,
    control_logger_client,
    make_model,
    make_deployment,
    training_client,
    launcher,
):
    model = make_model("rerun-me")
    deployment = make_deployment([model], batch_size=12, training_kwargs={"epochs": 3})
    result_id = deployment["results"][0]["id"]
    url = f"/api/v1/results/{result_id}/rerun/"
    assert client.post(url).status_code == 409  # still training
    registered = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 9), format="json"
    ).json()
    finish(training_client, result_id, accuracy=0.8)
    # the model is edited after the run: the re-run still trains the code the run used
    client.patch(f"/api/v1/models/{model.pk}/", {"code": OTHER_CODE}, format="json")

    assert other_client.post(url).status_code == 404
    launched = len(launcher.launched)
    response = client.post(url)
    assert response.status_code == 201, response.json()
    again = response.json()
    assert again["id"] != deployment["id"]
    assert again["configuration"] == deployment["configuration"]
    assert again["datasource"] == registered["id"]
    assert again["batch_size"] == 12 and again["training_kwargs"] == {"epochs": 3}
    assert again["seed"] == 1234
    assert len(launcher.launched) == launched + 1
    new_result = again["results"][0]["id"]
    assert client.get(f"/api/v1/results/{new_result}/").json()["model_version"] == 1
    worker = training_client(new_result).get(f"/api/v1/worker/results/{new_result}/").json()
    assert worker["datasource"]["id"] == registered["id"]
    assert worker["deployment"]["seed"] == 1234
    assert worker["model"]["code"] != OTHER_CODE


def test_rerun_without_a_datasource_is_a_409(client, make_deployment, training_client):
    result_id = make_deployment()["results"][0]["id"]
    finish(training_client, result_id, accuracy=0.5)
    response = client.post(f"/api/v1/results/{result_id}/rerun/")
    assert response.status_code == 409 and "datasource" in response.json()["errors"]


def test_serving_history_is_bounded_and_private(
    client, other_client, make_deployment, training_client, workload_client, launcher, settings
):
    from kafkaml.inference import history

    result_id = make_deployment()["results"][0]["id"]
    assert upload(training_client(result_id), result_id, metadata=METADATA).status_code == 201
    inference = client.post(
        "/api/v1/inferences/",
        {
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": "alice.in",
            "output_topic": "alice.out",
        },
        format="json",
    ).json()
    worker = workload_client(launcher.launched[-1].name)
    report = f"/api/v1/worker/inferences/{inference['id']}/metrics/"
    bound = 5
    original = history.METRICS_HISTORY_POINTS
    history.METRICS_HISTORY_POINTS = bound
    try:
        for i in range(bound + 3):
            body = {
                "replica": "r0",
                "records_in_per_s": 100 + i,
                "latency_ms": {"p50": 2, "p99": 9 + i},
                "lag": i,
            }
            assert worker.post(report, body, format="json").status_code == 204
    finally:
        history.METRICS_HISTORY_POINTS = original
    url = f"/api/v1/inferences/{inference['id']}/metrics-history/"
    points = client.get(url).json()
    assert len(points) == bound
    assert [p["records_in_per_s"] for p in points] == [103 + i for i in range(bound)]
    assert points[-1]["latency_p99_ms"] == 9 + bound + 2 and points[-1]["lag"] == bound + 2
    assert len(client.get(url + "?limit=2").json()) == 2
    assert other_client.get(url).status_code == 404


def test_versions_of_another_users_model_are_not_found(client, other_client, make_model):
    model = make_model("private")
    assert client.get(f"/api/v1/models/{model.pk}/versions/").status_code == 200
    assert other_client.get(f"/api/v1/models/{model.pk}/versions/").status_code == 404


def test_a_chain_reruns_with_every_members_version(
    client, executor_ok, control_logger_client, make_model, make_deployment, training_client
):
    cloud = make_model("cloud", distributed=True)
    edge = make_model("edge", distributed=True, upper_model=cloud)
    deployment = make_deployment([edge])
    control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 11), format="json"
    )
    leader = next(r["id"] for r in deployment["results"] if r["chain_leader"] is None)
    worker = training_client(leader)  # the chain's one workload reports for every member
    for result in deployment["results"]:
        summary = {"test_metrics": {"accuracy": 0.6}, "seed": 5}
        assert upload(worker, result["id"], summary=summary).status_code == 201
    again = client.post(f"/api/v1/results/{leader}/rerun/")
    assert again.status_code == 201, again.json()
    results = again.json()["results"]
    assert sorted(r["model"] for r in results) == sorted([edge.pk, cloud.pk])
    new_leader = next(r["id"] for r in results if r["chain_leader"] is None)
    payload = training_client(new_leader).get(f"/api/v1/worker/results/{new_leader}/").json()
    assert [m["version"] for m in payload["chain"]] == [1, 1]
