"""Issue 13 (4): a distributed chain deploys for inference as one action, topics wired."""

import pytest

from kafkaml.training.tests.test_worker_api import METADATA, upload

pytestmark = pytest.mark.django_db(transaction=True)

EDGE = {
    **METADATA,
    "inputs": [{"name": "x", "shape": [None, 64], "dtype": "float32"}],
    "outputs": [
        {"name": "to_upper", "shape": [None, 16], "dtype": "float32"},
        {"name": "y", "shape": [None, 10], "dtype": "float32"},
    ],
    "distributed": True,
}
CLOUD = {
    **METADATA,
    "inputs": [{"name": "x", "shape": [None, 16], "dtype": "float32"}],
    "outputs": [{"name": "y", "shape": [None, 10], "dtype": "float32"}],
}


@pytest.fixture
def chain(make_model, make_deployment, training_client):
    def make(cloud_metadata=CLOUD):
        cloud = make_model("cloud", distributed=True)
        edge = make_model("edge", distributed=True, upper_model=cloud)
        results = make_deployment([edge])["results"]
        leader = next(r for r in results if r["chain_leader"] is None)
        member = next(r for r in results if r["chain_leader"] is not None)
        worker = training_client(leader["id"])
        assert upload(worker, leader["id"], metadata=EDGE).status_code == 201
        assert upload(worker, member["id"], metadata=cloud_metadata).status_code == 201
        return leader["id"], member["id"]

    return make


def chain_body(result_id, **extra):
    return {
        "result": result_id,
        "input_format": "RAW",
        "input_config": {"data_type": "float32", "data_reshape": "8 8"},
        "input_topic": "alice.chain-in",
        "output_topic": "alice.chain-out",
        "limit": 0.8,
        **extra,
    }


def test_the_plan_says_the_cloud_reads_the_edge_output(client, chain, launcher):
    edge, cloud = chain()
    for asked in (edge, cloud):
        plan = client.get(f"/api/v1/inferences/chain/?result={asked}").json()
        assert plan["leader"] == edge
        assert [m["result"] for m in plan["members"]] == [edge, cloud]
        assert plan["members"][1]["input_config"] == {
            "data_type": "float32",
            "data_reshape": "16",
        }
        assert plan["members"][0]["upper"] and not plan["members"][1]["upper"]


def test_a_chain_deploys_as_one_action_with_its_topics_wired(
    client, chain, launcher, workload_client
):
    edge, cloud = chain()
    response = client.post("/api/v1/inferences/chain/", chain_body(cloud), format="json")
    assert response.status_code == 201, response.json()
    first, second = response.json()["inferences"]
    assert (first["result"], second["result"]) == (edge, cloud)
    assert first["input_topic"] == "alice.chain-in"
    assert first["upper_topic"].startswith("alice.chain-") and first["limit"] == 0.8
    assert second["input_topic"] == first["upper_topic"]
    assert second["input_format"] == "RAW"
    assert second["input_config"] == {"data_type": "float32", "data_reshape": "16"}
    assert second["upper_topic"] == "" and second["limit"] is None
    assert first["output_topic"] == second["output_topic"] == "alice.chain-out"
    launched = [s for s in launcher.launched if s.component == "inference"]
    assert len(launched) == 2
    worker = workload_client(launched[1].name).get(f"/api/v1/worker/inferences/{second['id']}/")
    assert worker.json()["input_topic"] == first["upper_topic"]

    # deployed twice, the two chains do not share an upper topic
    again = client.post(
        "/api/v1/inferences/chain/",
        chain_body(edge, output_topic="alice.chain-out2", limits=[0.5]),
        format="json",
    ).json()["inferences"]
    assert again[0]["upper_topic"] != first["upper_topic"] and again[0]["limit"] == 0.5


def test_a_chain_whose_cloud_cannot_read_the_edge_output_is_refused_whole(client, chain, launcher):
    wrong = {**CLOUD, "inputs": [{"name": "x", "shape": [None, 20], "dtype": "float32"}]}
    edge, cloud = chain(cloud_metadata=wrong)
    response = client.post("/api/v1/inferences/chain/", chain_body(edge), format="json")
    assert response.status_code == 400
    assert "cloud" in response.json()["detail"] and "input_config" in response.json()["errors"]
    assert client.get("/api/v1/inferences/").json()["count"] == 0
    assert not [s for s in launcher.launched if s.component == "inference"]


def test_a_chain_needs_a_limit_and_a_chain(client, chain, finished_result_single, launcher):
    edge, _ = chain()
    no_limit = client.post("/api/v1/inferences/chain/", chain_body(edge, limit=None), format="json")
    assert no_limit.status_code == 400 and "limit" in no_limit.json()["errors"]
    bad = client.post(
        "/api/v1/inferences/chain/", chain_body(edge, limits=[0.5, 0.6]), format="json"
    )
    assert bad.status_code == 400 and "limits" in bad.json()["errors"]
    single = finished_result_single()
    alone = client.post("/api/v1/inferences/chain/", chain_body(single), format="json")
    assert alone.status_code == 400 and "result" in alone.json()["errors"]
    plan = client.get(f"/api/v1/inferences/chain/?result={single}")
    assert plan.status_code == 200 and plan.json() == {"leader": None, "members": []}


@pytest.fixture
def finished_result_single(make_deployment, training_client):
    def make():
        result_id = make_deployment()["results"][0]["id"]
        assert upload(training_client(result_id), result_id).status_code == 201
        return result_id

    return make
