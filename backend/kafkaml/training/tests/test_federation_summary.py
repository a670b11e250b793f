"""A federated result's ``federated`` summary (uploaded by the coordinator with the global model)
reaches the result as ``federation``: the sites that took part, refused, late and dropped."""

import pytest

from .test_worker_api import upload

pytestmark = pytest.mark.django_db(transaction=True)

# as model_training.federated.platform.federation_summary uploads it
FEDERATED = {
    "strategy": "fedavg",
    "rounds": 3,
    "sites": ["datasource-1", "datasource-2", "datasource-3"],
    "refused": {"datasource-4": "40 samples < min_data 100"},
    "late": ["datasource-5"],
    "dropped": {"datasource-3": 2},
    "samples": {
        "datasource-1": 600,
        "datasource-2": 400,
        "datasource-3": 300,
        "datasource-4": 40,
        "datasource-5": 500,
    },
    # per round: datasource-3 dropped in round 2, so it is absent from rounds 2 and 3;
    # datasource-2 (online) had no new records in round 3: 0
    "round_samples": [
        {"datasource-1": 600, "datasource-2": 400, "datasource-3": 300},
        {"datasource-1": 600, "datasource-2": 50},
        {"datasource-1": 600, "datasource-2": 0},
    ],
}


def test_result_shows_the_federation(client, training_client, make_deployment):
    result_id = make_deployment(training_kwargs="epochs=2")["results"][0]["id"]
    assert client.get(f"/api/v1/results/{result_id}/").json()["federation"] is None

    summary = {"test_metrics": {"accuracy": 0.9}, "federated": FEDERATED}
    assert upload(training_client(result_id), result_id, summary=summary).status_code == 201

    result = client.get(f"/api/v1/results/{result_id}/").json()
    assert result["federation"] == {
        "strategy": "fedavg",
        "rounds": 3,
        "sites": [
            {"site": "datasource-1", "samples": 600},
            {"site": "datasource-2", "samples": 400},
            {"site": "datasource-3", "samples": 300},
        ],
        "refused": [{"site": "datasource-4", "reason": "40 samples < min_data 100"}],
        "late": [{"site": "datasource-5", "samples": 500}],
        "dropped": [{"site": "datasource-3", "round": 2}],
        "round_samples": [
            {
                "round": 1,
                "samples": {"datasource-1": 600, "datasource-2": 400, "datasource-3": 300},
            },
            {"round": 2, "samples": {"datasource-1": 600, "datasource-2": 50}},
            {"round": 3, "samples": {"datasource-1": 600, "datasource-2": 0}},
        ],
    }
    assert result["artifacts"][0]["metrics"]["federated"] == FEDERATED


def test_an_ordinary_result_has_no_federation(client, training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    assert upload(training_client(result_id), result_id).status_code == 201
    assert client.get(f"/api/v1/results/{result_id}/").json()["federation"] is None


def test_malformed_entries_are_left_out(client, training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    federated = {
        "rounds": "three",
        "sites": ["datasource-1", 7],
        "refused": ["datasource-2"],
        "late": "datasource-3",
        "dropped": {"datasource-1": "second", "datasource-4": 1},
        "samples": {"datasource-1": -5},
        # round 1: not a mapping; round 2: one good count; round 3: nothing good left
        "round_samples": [
            [600],
            {"datasource-1": 10, "datasource-2": -1, "datasource-3": "ten", "datasource-4": True},
            {"datasource-1": None},
        ],
    }
    summary = {"federated": federated}
    assert upload(training_client(result_id), result_id, summary=summary).status_code == 201
    assert client.get(f"/api/v1/results/{result_id}/").json()["federation"] == {
        "strategy": "",
        "rounds": None,
        "sites": [{"site": "datasource-1", "samples": None}],
        "refused": [],
        "late": [],
        "dropped": [{"site": "datasource-4", "round": 1}],
        "round_samples": [{"round": 2, "samples": {"datasource-1": 10}}],
    }


def test_a_summary_without_round_samples_has_none(client, training_client, make_deployment):
    # a summary uploaded before the coordinator recorded round_samples, or with a malformed one
    for value in (None, {"datasource-1": 3}):
        result_id = make_deployment()["results"][0]["id"]
        federated = {k: v for k, v in FEDERATED.items() if k != "round_samples"}
        if value is not None:
            federated["round_samples"] = value
        summary = {"federated": federated}
        assert upload(training_client(result_id), result_id, summary=summary).status_code == 201
        federation = client.get(f"/api/v1/results/{result_id}/").json()["federation"]
        assert federation["round_samples"] == []
