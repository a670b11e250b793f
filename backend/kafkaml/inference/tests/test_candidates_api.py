"""Runtime 'external' settings, and shadow/canary candidates: set, live agreement from the
replicas' reports, promote and roll back in one call."""

import pytest

from .test_inference_api import body, finished_result  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

SERVER = {"url": "http://mlserver.models:8080", "model_name": "digits"}


def test_external_runtime_settings_are_validated_and_reach_the_worker(
    client,
    workload_client,
    finished_result,  # noqa: F811
    launcher,
):
    result = finished_result()
    post = lambda **extra: client.post("/api/v1/inferences/", body(result, **extra), format="json")  # noqa: E731
    missing = post(runtime="external")
    assert missing.status_code == 400 and "external" in missing.json()["errors"]
    bad = post(runtime="external", external={**SERVER, "url": "ftp://x"})
    assert bad.status_code == 400 and "external.url" in bad.json()["errors"]
    wrong = post(runtime="external", external={**SERVER, "protocol": "grpc"})
    assert wrong.status_code == 400
    stray = post(external=SERVER)  # settings without the runtime
    assert stray.status_code == 400
    created = post(runtime="external", external={**SERVER, "protocol": "tfserving", "retries": 5})
    assert created.status_code == 201, created.json()
    inference = created.json()
    assert inference["runtime"] == "external"
    assert inference["external"]["protocol"] == "tfserving"
    worker = workload_client(launcher.launched[-1].name)
    payload = worker.get(f"/api/v1/worker/inferences/{inference['id']}/").json()
    assert payload["runtime"] == "external"
    assert payload["external"] == {
        **SERVER,
        "protocol": "tfserving",
        "model_version": "",
        "timeout_ms": 5000,
        "retries": 5,
        "concurrency": 4,
        "max_batch": 0,
    }
    assert payload["candidate"] is None


def test_shadow_agreement_is_exposed_then_promoted(
    client,
    workload_client,
    finished_result,  # noqa: F811
    launcher,
):
    first, second = finished_result(), finished_result()
    inference = client.post("/api/v1/inferences/", body(first), format="json").json()
    url = f"/api/v1/inferences/{inference['id']}/"
    worker = workload_client(launcher.launched[-1].name)
    assert worker.get(f"/api/v1/worker/results/{second}/artifacts/").status_code == 404
    # nothing to promote or roll back yet
    assert client.post(url + "promote/").status_code == 400
    assert client.post(url + "rollback/").status_code == 400

    set_ = client.post(url + "candidate/", {"result": second, "mode": "shadow"}, format="json")
    assert set_.status_code == 200, set_.json()
    assert set_.json()["candidate"]["shadow_topic"] == "alice.digits-out.shadow"
    payload = worker.get(f"/api/v1/worker/inferences/{inference['id']}/").json()
    assert payload["candidate"] == {
        "result_id": second,
        "version": 1,
        "mode": "shadow",
        "share": 0.0,
        "shadow_topic": "alice.digits-out.shadow",
    }
    # the replica may download the candidate's model
    assert worker.get(f"/api/v1/worker/results/{second}/artifacts/").status_code == 200

    # two replicas report their comparison (worker.py candidate_report)
    for replica, records, equal, mad in (("r0", 300, 270, 0.02), ("r1", 100, 100, 0.0)):
        report = {
            "replica": replica,
            "candidate": {
                "mode": "shadow",
                "version": 1,
                "records": records,
                "equal": equal,
                "errors": 0,
                "agreement": equal / records,
                "mean_abs_diff": mad,
                "answered": 0,
                "primary_answered": 0,
            },
        }
        posted = worker.post(
            f"/api/v1/worker/inferences/{inference['id']}/metrics/", report, format="json"
        )
        assert posted.status_code == 204
    candidate = client.get(url).json()["candidate"]
    assert candidate["records"] == 400
    assert candidate["agreement"] == pytest.approx(370 / 400)
    assert candidate["mean_abs_diff"] == pytest.approx((300 * 0.02) / 400)

    promoted = client.post(url + "promote/").json()
    assert promoted["serving_result"] == second and promoted["candidate"] is None
    assert promoted["swap_history"][-1]["candidate"] == "promoted"
    payload = worker.get(f"/api/v1/worker/inferences/{inference['id']}/").json()
    assert payload["result_id"] == second and payload["candidate"] is None


def test_canary_is_validated_and_rolled_back(
    client,
    other_client,
    finished_result,  # noqa: F811
    launcher,
):
    first, second = finished_result(), finished_result()
    inference = client.post("/api/v1/inferences/", body(first), format="json").json()
    url = f"/api/v1/inferences/{inference['id']}/"
    same = client.post(url + "candidate/", {"result": first, "mode": "canary", "share": 0.1})
    assert same.status_code == 400  # the version served now
    no_share = client.post(url + "candidate/", {"result": second, "mode": "canary"})
    assert no_share.status_code == 400 and "share" in no_share.json()["errors"]
    foreign = client.post(
        url + "candidate/", {"result": second, "mode": "shadow", "shadow_topic": "bob.x"}
    )
    assert foreign.status_code == 409  # not her topic
    assert other_client.post(url + "rollback/").status_code == 404  # owner only
    canary = client.post(url + "candidate/", {"result": second, "mode": "canary", "share": 0.25})
    assert canary.status_code == 200
    assert canary.json()["candidate"]["share"] == 0.25
    assert canary.json()["candidate"]["shadow_topic"] is None
    rolled = client.post(url + "rollback/").json()
    assert rolled["candidate"] is None and rolled["serving_result"] == first
    assert rolled["swap_history"][-1]["candidate"] == "rolled_back"
