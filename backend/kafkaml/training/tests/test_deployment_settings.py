"""Deployment settings are checked when the deployment is created (issue 13): optimizer, loss
and metrics must be Keras names where training compiles the model, are refused where it does
not (PyTorch, a Keras model compiled by its own code), and epochs are capped."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deploy(client, launcher):
    def post(models, **fields):
        configuration = client.post(
            "/api/v1/configurations/",
            {"name": f"c{models[0].pk}", "models": [m.pk for m in models]},
            format="json",
        ).json()
        return client.post(
            "/api/v1/deployments/", {"configuration": configuration["id"], **fields}, format="json"
        )

    return post


def _uncompiled_keras(make_model, **fields):
    return make_model(summary={"compiled": False}, **fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("optimizer", "adamzz"),
        ("loss", "NotALoss"),
        ("metrics", "accuracy, acuracy"),
    ],
)
def test_unknown_keras_names_are_a_400_naming_the_field(deploy, make_model, launcher, field, value):
    response = deploy([_uncompiled_keras(make_model)], **{field: value})
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == [field]
    assert launcher.launched == []


def test_a_typo_gets_a_suggestion(deploy, make_model):
    response = deploy([_uncompiled_keras(make_model)], optimizer="adamm")
    assert "Did you mean `adam`" in response.json()["errors"]["optimizer"][0]


def test_keras_names_classes_and_aliases_are_accepted_and_recorded(deploy, make_model):
    response = deploy(
        [_uncompiled_keras(make_model)],
        optimizer="RMSprop",
        learning_rate=0.01,
        loss="SparseCategoricalCrossentropy",
        metrics="accuracy,mae , AUC",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["optimizer"] == "RMSprop" and body["learning_rate"] == 0.01
    assert body["loss"] == "SparseCategoricalCrossentropy"
    assert body["metrics"] == "accuracy, mae, AUC"


def test_left_out_settings_get_the_keras_defaults(deploy, make_model):
    body = deploy([_uncompiled_keras(make_model)]).json()
    assert (body["optimizer"], body["loss"], body["metrics"]) == (
        "adam",
        "sparse_categorical_crossentropy",
        "accuracy",
    )


@pytest.mark.parametrize("field", ["optimizer", "loss", "metrics", "learning_rate"])
def test_settings_are_refused_for_pytorch_models(deploy, make_model, launcher, field):
    value = 0.1 if field == "learning_rate" else "adam"
    response = deploy([make_model(framework="pytorch")], **{field: value})
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert list(errors) == [field] and "PyTorch" in errors[field][0]
    assert launcher.launched == []


def test_settings_are_refused_for_a_keras_model_that_compiles_itself(deploy, make_model):
    response = deploy([make_model(summary={"compiled": True})], loss="mse")
    assert response.status_code == 400
    assert "compiles it" in response.json()["errors"]["loss"][0]


def test_settings_that_do_not_apply_are_recorded_empty(deploy, make_model):
    body = deploy([make_model(framework="pytorch")]).json()
    assert (body["optimizer"], body["loss"], body["metrics"]) == ("", "", "")
    body = deploy([make_model(summary={"compiled": True})]).json()
    assert (body["optimizer"], body["loss"], body["metrics"]) == ("", "", "")


def test_a_keras_chain_always_uses_them(deploy, make_model):
    cloud = make_model("cloud", distributed=True, summary={"compiled": True})
    edge = make_model("edge", distributed=True, upper_model=cloud, summary={"compiled": True})
    assert deploy([edge], metrics="accuracy").status_code == 201
    assert deploy([edge], loss="NotALoss").status_code == 400


def test_epochs_are_capped(deploy, make_model, settings, launcher):
    settings.KAFKAML_MAX_EPOCHS = 50
    model = _uncompiled_keras(make_model)
    response = deploy([model], training_kwargs="epochs=51")
    assert response.status_code == 400
    message = response.json()["errors"]["training_kwargs"][0]
    assert "51" in message and "50" in message and "KAFKAML_MAX_EPOCHS" in message
    assert deploy([model], training_kwargs={"max_epochs": 1000}).status_code == 400
    assert deploy([model], training_kwargs="epochs=50").status_code == 201
    assert len(launcher.launched) == 1


def test_the_default_cap_is_1000(deploy, make_model):
    model = _uncompiled_keras(make_model)
    assert deploy([model], training_kwargs="epochs=1000").status_code == 201
    assert deploy([model], training_kwargs="epochs=1001").status_code == 400
