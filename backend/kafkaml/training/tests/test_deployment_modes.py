"""Issue 15: incremental modes, the metric's direction, semi-supervised rounds, and a
stream_timeout that is in seconds (a millisecond-looking value is refused)."""

import pytest

from model_training.job import TrainingSettings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deploy(client, launcher):
    def post(model, **fields):
        configuration = client.post(
            "/api/v1/configurations/",
            {"name": f"c{model.pk}", "models": [model.pk]},
            format="json",
        ).json()
        return client.post(
            "/api/v1/deployments/", {"configuration": configuration["id"], **fields}, format="json"
        )

    return post


def test_millisecond_stream_timeout_is_refused(deploy, make_model, launcher):
    response = deploy(make_model(), incremental=True, stream_timeout=60000)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["stream_timeout"] == [
        "stream_timeout is in seconds; 60000 looks like milliseconds (at most 86400 s)"
    ]
    assert launcher.launched == []
    for ms in (90_000_000, 86_401, 10_000):
        response = deploy(make_model(), incremental=True, stream_timeout=ms)
        assert "looks like milliseconds" in response.json()["errors"]["stream_timeout"][0]
    for seconds in (1, 60, 3600, 86_400):
        response = deploy(make_model(), incremental=True, stream_timeout=seconds)
        assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incremental_mode", "forever"),
        ("change", "sideways"),
        ("unsupervised_rounds", -1),
        ("confidence_threshold", 1.5),
    ],
)
def test_bad_modes_are_a_400_naming_the_field(deploy, make_model, field, value):
    response = deploy(make_model(), **{field: value})
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == [field]


def test_modes_are_recorded_and_reach_the_worker_settings(deploy, make_model):
    fields = {
        "incremental": True,
        "incremental_mode": "time_limited",
        "stream_timeout": 30,
        "change": "up",
        "unsupervised_rounds": 3,
        "confidence_threshold": 0.8,
    }
    body = deploy(make_model(), **fields).json()
    assert {k: body[k] for k in fields} == fields
    defaults = deploy(make_model()).json()
    assert (defaults["incremental_mode"], defaults["change"]) == ("indefinite", "auto")
    assert (defaults["unsupervised_rounds"], defaults["confidence_threshold"]) == (0, 0.9)
    settings = TrainingSettings.from_deployment(body, "tensorflow")
    assert settings.incremental_mode == "time_limited" and settings.change == "up"
    assert (settings.unsupervised_rounds, settings.confidence_threshold) == (3, 0.8)
    assert settings.stream_timeout == 30
