"""Per-round pseudo-labelling figures reported by a semi-supervised worker reach the result."""

import pytest

from .test_worker_api import upload

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = [
    # as model_training's worker uploads them: the round, its pseudo-labelled samples, the
    # metrics after the round's fit
    {"round": 2, "pseudo_labelled": 1310, "metrics": {"accuracy": 0.97, "val_accuracy": 0.91}},
    {"round": 1, "pseudo_labelled": 1200, "metrics": {"accuracy": 0.95, "val_accuracy": 0.88}},
    {"round": 3, "pseudo_labelled": 0},  # stopped: nothing confident enough
]


def test_result_shows_each_pseudo_labelling_round(client, training_client, make_deployment):
    deployment = make_deployment(training_kwargs="epochs=2")
    result_id = deployment["results"][0]["id"]
    assert client.get(f"/api/v1/results/{result_id}/").json()["pseudo_labelling"] == []

    summary = {"test_metrics": {"accuracy": 0.9}, "pseudo_labelling": ROUNDS}
    assert upload(training_client(result_id), result_id, summary=summary).status_code == 201

    result = client.get(f"/api/v1/results/{result_id}/").json()
    assert result["pseudo_labelling"] == [
        {
            "round": 1,
            "pseudo_labelled": 1200,
            "accuracy": 0.88,  # validation accuracy when there is one
            "metrics": {"accuracy": 0.95, "val_accuracy": 0.88},
        },
        {
            "round": 2,
            "pseudo_labelled": 1310,
            "accuracy": 0.91,
            "metrics": {"accuracy": 0.97, "val_accuracy": 0.91},
        },
        {"round": 3, "pseudo_labelled": 0, "accuracy": None, "metrics": {}},
    ]
    # the worker's summary is kept as it came, on the version
    assert result["artifacts"][0]["metrics"]["pseudo_labelling"] == ROUNDS


def test_malformed_rounds_are_left_out(client, training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    summary = {
        "pseudo_labelling": [
            "round one",
            {"round": "x", "pseudo_labelled": 3},
            {"round": 1, "pseudo_labelled": 5, "metrics": {"accuracy": "high", "loss": 0.5}},
        ]
    }
    assert upload(training_client(result_id), result_id, summary=summary).status_code == 201
    rounds = client.get(f"/api/v1/results/{result_id}/").json()["pseudo_labelling"]
    assert rounds == [
        {"round": 1, "pseudo_labelled": 5, "accuracy": None, "metrics": {"loss": 0.5}}
    ]
