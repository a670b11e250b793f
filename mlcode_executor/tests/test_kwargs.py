import inspect

import pytest

from mlcode_executor.kwargs import (
    KERAS_EVALUATE,
    KERAS_FIT,
    PLATFORM_SUPPLIED,
    KwargsError,
    parse_kwargs,
)


def test_python_style_and_json():
    assert parse_kwargs("epochs=5, shuffle=True, validation_split=0.1") == {
        "epochs": 5,
        "shuffle": True,
        "validation_split": 0.1,
    }
    assert parse_kwargs('{"epochs": 3, "batch_size": 32}', "pytorch") == {
        "epochs": 3,
        "batch_size": 32,
    }
    assert parse_kwargs("{'epochs': 2, 'class_weight': {0: 1.0, 1: -2.5}}") == {
        "epochs": 2,
        "class_weight": {0: 1.0, 1: -2.5},
    }
    assert parse_kwargs("") == {} and parse_kwargs(None) == {}
    assert parse_kwargs("batch_size=8, verbose=0", "tensorflow", "evaluate") == {
        "batch_size": 8,
        "verbose": 0,
    }


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("epochs=__import__('os').system('id')", "epochs"),
        ("epochs=5, batch_size=open('/etc/passwd')", "batch_size"),
        ("epochs=x", "epochs"),
        ("epochs=os.environ", "epochs"),
        ("epochs=lambda: 1", "epochs"),
        ("epochs=().__class__.__bases__[0]", "epochs"),
        ("epochs=[i for i in range(3)]", "epochs"),
        ("epochs=0", "epochs"),
        ("epochs=-1", "epochs"),
        ("epochs=2.5", "epochs"),
        ("epochs=True", "epochs"),
        ('{"epochs": "5"}', "epochs"),
        ("epochs=5, epochs=6", "epochs"),
        ("callbacks=[]", "callbacks"),
        ("x=[1, 2]", "x"),
        ("learning_rate=0.1", "learning_rate"),
        ("validation_split=1.5", "validation_split"),
        ("__class__=1", "__class__"),
    ],
)
def test_rejections_name_the_key(text, key):
    with pytest.raises(KwargsError) as info:
        parse_kwargs(text)
    assert info.value.key == key
    assert f"`{key}`" in info.value.message


def test_unparsable_and_positional():
    with pytest.raises(KwargsError, match="could not parse"):
        parse_kwargs("epochs=5,, shuffle")
    with pytest.raises(KwargsError, match="positional"):
        parse_kwargs("5, shuffle=True")
    with pytest.raises(KwargsError, match="unpacking"):
        parse_kwargs("**{'epochs': 1}")


def test_pytorch_allow_list():
    assert parse_kwargs("max_epochs=3, batch_size=16, shuffle=False", "pytorch") == {
        "max_epochs": 3,
        "batch_size": 16,
        "shuffle": False,
    }
    with pytest.raises(KwargsError) as info:
        parse_kwargs("initial_epoch=1", "pytorch")
    assert info.value.key == "initial_epoch"
    with pytest.raises(KwargsError, match="either"):
        parse_kwargs("epochs=1, max_epochs=2", "pytorch")


def test_keras_allow_list_matches_the_installed_keras():
    keras = pytest.importorskip("keras")
    fit = set(inspect.signature(keras.Model.fit).parameters) - {"self"}
    evaluate = set(inspect.signature(keras.Model.evaluate).parameters) - {"self"}
    assert KERAS_FIT <= fit and fit - KERAS_FIT <= PLATFORM_SUPPLIED
    assert KERAS_EVALUATE <= evaluate and evaluate - KERAS_EVALUATE <= PLATFORM_SUPPLIED
