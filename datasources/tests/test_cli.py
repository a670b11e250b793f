"""kafkaml-send against the real embedded broker."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasources.cli import main
from datasources.codecs import get_codec
from datasources.sink import parse_deployment_key

from .kafka_helpers import read_control, read_ranges


def _run(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_sends_sklearn_digits(broker, unique_topic, capsys):
    from sklearn.datasets import load_digits

    control = f"{unique_topic}-control"
    out = _run(
        capsys,
        "--sklearn",
        "digits",
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--topic",
        unique_topic,
        "--deployment-id",
        "42",
        "--format",
        "RAW",
        "--validation-rate",
        "0.1",
        "--test-rate",
        "0.2",
        "--control-topic",
        control,
        "--reshape",
        "8 8",
    )
    message = out["control_message"]
    assert message["total_msg"] == 1797
    assert message["input_config"]["data_reshape"] == "8 8"
    [(key, announced)] = read_control(broker.bootstrap_servers, control)
    assert parse_deployment_key(key) == 42 and announced == message
    assert (announced["validation_rate"], announced["test_rate"]) == (0.1, 0.2)
    records = read_ranges(broker.bootstrap_servers, message["topic"])
    codec = get_codec("RAW", message["input_config"])
    x = codec.decode_batch([v for _, v in records])
    y = codec.decode_labels([k for k, _ in records])
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.data))  # the default shuffle
    np.testing.assert_array_equal(x, digits.images[order].astype(np.float32))
    np.testing.assert_array_equal(y, digits.target[order])


@pytest.mark.parametrize("fmt", ["AVRO", "JSON"])
def test_cli_other_formats(broker, unique_topic, capsys, fmt):
    out = _run(
        capsys,
        "--sklearn",
        "iris",
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--topic",
        unique_topic,
        "--deployment-id",
        "3",
        "--format",
        fmt,
        "--quiet",
        "--limit",
        "40",
        "--control-topic",
        f"{unique_topic}-control",
    )
    message = out["control_message"]
    assert message["input_format"] == fmt and message["total_msg"] == 40
    records = read_ranges(broker.bootstrap_servers, message["topic"])
    codec = get_codec(fmt, message["input_config"])
    assert codec.decode_batch([v for _, v in records]).shape == (40, 4)
    assert set(codec.decode_labels([k for k, _ in records]).tolist()) <= {0, 1, 2}


def test_cli_npz_and_csv(broker, unique_topic, capsys, tmp_path):
    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.arange(30, dtype=np.uint8).reshape(10, 3), y=np.arange(10, dtype=np.uint8))
    out = _run(
        capsys,
        str(npz),
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--topic",
        unique_topic,
        "--deployment-id",
        "1",
        "--control-topic",
        f"{unique_topic}-c1",
    )
    assert out["control_message"]["input_config"]["data_type"] == "uint8"
    assert out["control_message"]["total_msg"] == 10

    csv_file = tmp_path / "t.csv"
    csv_file.write_text("a,b,species\n1,2,0\n3,4,1\n5,6,1\n")
    out = _run(
        capsys,
        str(csv_file),
        "--label-column",
        "species",
        "--bootstrap-servers",
        broker.bootstrap_servers,
        "--topic",
        f"{unique_topic}-csv",
        "--deployment-id",
        "1",
        "--control-topic",
        f"{unique_topic}-c2",
    )
    message = out["control_message"]
    records = read_ranges(broker.bootstrap_servers, message["topic"])
    codec = get_codec("RAW", message["input_config"])
    np.testing.assert_array_equal(
        codec.decode_batch([v for _, v in records]), [[1, 2], [3, 4], [5, 6]]
    )
    assert codec.decode_labels([k for k, _ in records]).tolist() == [0, 1, 1]


def test_cli_errors(tmp_path, capsys):
    common = ["--bootstrap-servers", "127.0.0.1:1", "--topic", "t", "--deployment-id", "1"]
    assert main([str(tmp_path / "missing.npz"), *common]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(common) == 2
    assert "nothing to send" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros(3), b=np.zeros(3))
    assert main([str(bad), *common]) == 2
    assert "--data-key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "--sklearn",
                "digits",
                "--topic",
                "t",
                "--deployment-id",
                "1",
                "--format",
                "XML",
                "--bootstrap-servers",
                "x:1",
            ]
        )
