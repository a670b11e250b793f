"""Shadow and canary: a second model version on the same input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_inference.core import Candidate, ModelSpec, canary_bucket, canary_mask, process_batch
from model_inference.runtimes import load_runtime
from model_inference.testing import write_mlp_artifact

from .conftest import ThreadWorker, images, make_worker, produce, read_topics, topics, wait_for


@pytest.fixture(scope="module")
def artifact2(tmp_path_factory, mlp2):
    return write_mlp_artifact(tmp_path_factory.mktemp("art2") / "v2", mlp2, version=2)


@pytest.fixture(scope="module")
def codec():
    from datasources.codecs import get_codec

    return get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28"})


def spec(artifact, version):
    runtime = load_runtime(artifact)
    return ModelSpec(runtime=runtime, version=version, extra={"model_version": version})


@pytest.mark.parametrize("share", [0.05, 0.1, 0.25, 0.5, 0.9])
def test_canary_share_within_5_percent_over_10000_keys(share):
    keys = [f"user-{i}".encode() for i in range(10_000)]
    mask = canary_mask(keys, share)
    assert abs(mask.mean() - share) <= 0.05 * share + 1e-9  # within ±5 % of the share
    assert np.array_equal(mask, canary_mask(keys, share))  # deterministic
    # a larger share keeps every key the smaller one had (no key flips back)
    assert not (mask & ~canary_mask(keys, min(1.0, share + 0.05))).any()
    assert canary_bucket("user-1") == canary_bucket(b"user-1")
    assert not canary_mask(keys, 0.0).any() and canary_mask(keys, 1.0).all()


def test_canary_answers_the_keys_of_its_share(codec, onnx_artifact, artifact2, mlp, mlp2):
    x = images(2000, seed=4)
    keys = [str(i).encode() for i in range(2000)]
    cand = Candidate(spec(artifact2, 2), mode="canary", share=0.2)
    result = process_batch(
        [v.tobytes() for v in x], codec, spec(onnx_artifact, 1), keys=keys, candidate=cand
    )
    assert not result.errors and len(result.out_index) == 2000
    mask = canary_mask(keys, 0.2)
    assert result.candidate_answered == int(mask.sum())
    for i, value in zip(result.out_index, result.out_values, strict=True):
        out = json.loads(value)
        want, model = (2, mlp2) if mask[i] else (1, mlp)
        assert out["model_version"] == want
        np.testing.assert_allclose(out["values"], model(x[i : i + 1])[0], atol=1e-5)


def test_shadow_agreement_is_computed(codec, onnx_artifact, artifact2, mlp, mlp2):
    x = images(500, seed=6)
    values = [v.tobytes() for v in x] + [b"bad"]
    cand = Candidate(spec(artifact2, 2), mode="shadow")
    result = process_batch(values, codec, spec(onnx_artifact, 1), candidate=cand)
    assert list(result.errors) == [500]  # undecodable: the DLQ, as always
    assert result.shadow_index == list(range(500))
    p, s = mlp(x), mlp2(x)
    agreement = result.agreement
    assert agreement["records"] == 500
    assert agreement["equal"] == int((p.argmax(1) == s.argmax(1)).sum())
    assert agreement["abs_diff_sum"] == pytest.approx(np.abs(p - s).mean(1).sum(), rel=1e-4)
    shadow = json.loads(result.shadow_values[3])
    assert shadow["model_version"] == 2
    np.testing.assert_allclose(shadow["values"], s[3], atol=1e-5)
    primary = json.loads(result.out_values[3])
    assert primary["model_version"] == 1
    # the same model as shadow agrees fully
    same = Candidate(spec(onnx_artifact, 1), mode="shadow")
    result = process_batch(values[:500], codec, spec(onnx_artifact, 1), candidate=same)
    assert result.agreement["equal"] == 500 and result.agreement["abs_diff_sum"] < 1e-6


def test_worker_shadow_topic_and_live_agreement(broker, unique_topic, onnx_artifact, artifact2):
    src, out, shadow = unique_topic, f"{unique_topic}.out", f"{unique_topic}.shadow"
    topics(broker, src, out, shadow)
    n = 600
    produce(broker, src, [v.tobytes() for v in images(n, seed=8)])
    worker = ThreadWorker(
        make_worker(
            broker,
            onnx_artifact,
            src,
            out,
            batch_size=100,
            candidate={"mode": "shadow", "artifact_dir": str(artifact2), "shadow_topic": shadow},
        )
    ).start()
    try:
        records = read_topics(broker, [out, shadow], expected=2 * n, timeout=60, settle=0.5)
        assert wait_for(lambda: worker.worker.candidate_stats["records"] >= n, timeout=30)
        report = worker.worker.candidate_report()
    finally:
        worker.stop()
    outs = [json.loads(m.value()) for m in records if m.topic() == out]
    shadows = [json.loads(m.value()) for m in records if m.topic() == shadow]
    assert len(outs) == n and {o["model_version"] for o in outs} == {1}
    assert len(shadows) == n and {o["model_version"] for o in shadows} == {2}
    assert {o["candidate"] for o in shadows} == {"shadow"}
    assert report["mode"] == "shadow" and report["version"] == 2 and report["records"] == n
    assert 0.0 <= report["agreement"] <= 1.0 and report["mean_abs_diff"] > 0


def test_worker_canary_answers_the_keys_of_its_share(
    broker, unique_topic, onnx_artifact, artifact2
):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    n = 2000
    keys = [f"user-{i}".encode() for i in range(n)]
    produce(broker, src, [v.tobytes() for v in images(n, seed=9)], keys=keys)
    worker = ThreadWorker(
        make_worker(
            broker,
            onnx_artifact,
            src,
            out,
            batch_size=128,
            candidate={"mode": "canary", "artifact_dir": str(artifact2), "share": 0.3},
        )
    ).start()
    try:
        records = read_topics(broker, [out], expected=n, timeout=60, settle=0.5)
        assert wait_for(
            lambda: (worker.worker.candidate_report() or {}).get("answered", 0) > 0, timeout=10
        )
        report = worker.worker.candidate_report()
    finally:
        worker.stop()
    by_key = {m.key(): json.loads(m.value())["model_version"] for m in records}
    assert len(by_key) == n
    mask = canary_mask(keys, 0.3)
    assert [by_key[k] for k in keys] == [2 if c else 1 for c in mask]
    assert abs(sum(mask) / n - 0.3) <= 0.05 * 0.3
    assert report["mode"] == "canary" and report["answered"] == int(mask.sum())
    assert report["answered_share"] == pytest.approx(mask.mean(), abs=1e-3)
