"""The original Kafka-ML's convention: the last line of the model code is the model expression."""

import pytest

from mlcode_executor.usercode import UserCodeError, build_model, check_chain, validate

IMPORTS = "import tensorflow as tf\nfrom tensorflow import keras\n"

# Written in the style of the original README's distributed example: each sub-model's code ends
# with the bare ``keras.Model(...)`` expression (the original prepended ``model = `` to it).
EDGE = """\
edge_input = keras.Input(shape=(8, 8, 1), name='edge_input')
x = tf.keras.layers.Flatten(name='flatten')(edge_input)
to_fog = tf.keras.layers.Dense(32, activation=tf.nn.relu, name='to_fog')(x)
edge_output = tf.keras.layers.Dense(10, activation=tf.nn.softmax, name='edge_output')(to_fog)
keras.Model(inputs=[edge_input], outputs=[to_fog, edge_output], name='edge_model')
"""
FOG = """\
fog_input = keras.Input(shape=(32,), name='fog_input')
to_cloud = tf.keras.layers.Dense(16, activation=tf.nn.relu, name='to_cloud')(fog_input)
fog_output = tf.keras.layers.Dense(10, activation=tf.nn.softmax, name='fog_output')(to_cloud)
keras.Model(inputs=[fog_input], outputs=[to_cloud, fog_output], name='fog_model')
"""
CLOUD = """\
cloud_input = keras.Input(shape=(16,), name='cloud_input')
x = tf.keras.layers.Dense(16, activation=tf.nn.relu, name='cloud_dense')(cloud_input)
cloud_output = tf.keras.layers.Dense(10, activation=tf.nn.softmax, name='cloud_output')(x)
keras.Model(inputs=cloud_input, outputs=cloud_output, name='cloud_model')
"""


def test_readme_style_edge_fog_cloud_validates_unchanged():
    results = [
        {"name": name, "result": validate("tensorflow", IMPORTS, code)}
        for name, code in (("edge", EDGE), ("fog", FOG), ("cloud", CLOUD))
    ]
    assert [len(r["result"]["outputs"]) for r in results] == [2, 2, 1]
    links = check_chain(results)
    assert [link["ok"] for link in links] == [True, True], links
    model = build_model("tensorflow", IMPORTS, EDGE)
    assert model.name == "edge_model"


def test_last_expression_pytorch():
    from mlcode_executor.templates import PYTORCH_IMPORTS, PYTORCH_REGRESSOR

    # The template ends ``model = <Class>()``: the same code with a bare last line builds too.
    lines = PYTORCH_REGRESSOR.rstrip().splitlines()
    assert lines[-1].startswith("model = ")
    code = "\n".join([*lines[:-1], lines[-1][len("model = ") :]]) + "\n"
    model = build_model("pytorch", PYTORCH_IMPORTS, code)
    assert type(model).__name__ == "Regressor"


def test_defined_model_wins_over_a_trailing_expression():
    code = "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\nmodel.summary\n"
    assert build_model("tensorflow", IMPORTS, code).count_params() == 8


def test_error_in_last_expression_points_at_its_line():
    with pytest.raises(UserCodeError) as info:
        build_model("tensorflow", IMPORTS, "units = 3\nkeras.Model(inputs=missing_name)\n")
    err = info.value.to_dict()
    assert err["line"] == 2 and err["section"] == "code" and "missing_name" in err["message"]


def test_non_model_last_expression_is_still_refused():
    with pytest.raises(UserCodeError) as info:
        build_model("tensorflow", IMPORTS, "1 + 1\n")
    assert "`model` must be" in info.value.to_dict()["message"]


def test_a_last_call_returning_none_is_not_taken_for_the_model():
    with pytest.raises(UserCodeError) as info:
        build_model("tensorflow", IMPORTS, "print('no model here')\n")
    assert info.value.to_dict()["type"] == "MissingModel"
