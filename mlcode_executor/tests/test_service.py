"""End-to-end tests of the validation service with real TensorFlow and PyTorch."""

import json
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlcode_executor.templates import DISTRIBUTED_TEMPLATES, TEMPLATES

TF_IMPORTS = "import tensorflow as tf\n"
TORCH_IMPORTS = "import torch\nimport torch.nn as nn\nfrom ignite.metrics import Accuracy, Loss\n"

EXPECTED_PARAMS = {
    "keras-mnist": (101770, [[None, 28, 28]], [[None, 10]]),
    "keras-regressor": (5121, [[None, 13]], [[None, 1]]),
    "pytorch-mnist": (101770, [[None, 28, 28]], [[None, 10]]),
    "pytorch-regressor": (5121, [[None, 13]], [[None, 1]]),
}


def shapes(specs):
    return [s["shape"] for s in specs]


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["name"] for t in TEMPLATES])
def test_templates_validate(executor, template):
    answer = executor.validate(template["framework"], template["imports"], template["code"])
    assert answer["ok"], answer
    result = answer["result"]
    total, ins, outs = EXPECTED_PARAMS[template["name"]]
    assert result["total_params"] == total
    assert result["trainable_params"] == total
    assert shapes(result["inputs"]) == ins
    assert shapes(result["outputs"]) == outs
    assert result["framework"] == template["framework"]
    assert result["framework_version"]
    assert sum(layer["params"] for layer in result["layers"]) == total
    assert all({"name", "type", "output_shape", "params"} <= set(la) for la in result["layers"])


def test_keras_sequential_layers(executor):
    code = (
        "model = tf.keras.Sequential([\n"
        "    tf.keras.Input(shape=(8,)),\n"
        "    tf.keras.layers.Dense(4, activation='relu', name='hidden'),\n"
        "    tf.keras.layers.BatchNormalization(name='bn'),\n"
        "    tf.keras.layers.Dense(2, name='out'),\n"
        "])\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
    )
    result = executor.validate("tensorflow", TF_IMPORTS, code)["result"]
    rows = {r["name"]: r for r in result["layers"]}
    assert rows["hidden"] == {
        "name": "hidden",
        "type": "Dense",
        "output_shape": [None, 4],
        "params": 36,
        "trainable_params": 36,
    }
    assert rows["bn"]["params"] == 16 and rows["bn"]["trainable_params"] == 8
    assert result["total_params"] == 36 + 16 + 10
    assert result["trainable_params"] == 36 + 8 + 10
    assert result["non_trainable_params"] == 8
    assert result["compiled"] is True and result["optimizer"] == "SGD"


def test_keras_functional_two_inputs(executor):
    code = (
        "a = tf.keras.Input(shape=(28, 28, 1), name='image')\n"
        "b = tf.keras.Input(shape=(5,), name='meta')\n"
        "x = tf.keras.layers.Conv2D(8, 3, activation='relu')(a)\n"
        "x = tf.keras.layers.GlobalAveragePooling2D()(x)\n"
        "x = tf.keras.layers.Concatenate()([x, b])\n"
        "out = tf.keras.layers.Dense(3, activation='softmax', name='probs')(x)\n"
        "model = tf.keras.Model([a, b], out)\n"
    )
    answer = executor.validate("tensorflow", TF_IMPORTS, code)
    assert answer["ok"], answer
    result = answer["result"]
    assert shapes(result["inputs"]) == [[None, 28, 28, 1], [None, 5]]
    assert [i["name"] for i in result["inputs"]] == ["image", "meta"]
    assert shapes(result["outputs"]) == [[None, 3]]
    conv = next(r for r in result["layers"] if r["type"] == "Conv2D")
    assert conv["output_shape"] == [None, 26, 26, 8] and conv["params"] == 3 * 3 * 8 + 8
    assert result["total_params"] == 80 + (13 * 3 + 3)
    assert result["compiled"] is False  # compiled at deployment


def test_pytorch_ignite_model_with_request_input_shape(executor):
    code = (
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 4, 3)\n"
        "        self.fc = nn.Linear(4 * 26 * 26, 10)\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.relu(self.conv(x)).flatten(1))\n"
        "    def loss_fn(self):\n"
        "        return nn.CrossEntropyLoss()\n"
        "    def optimizer(self):\n"
        "        return torch.optim.SGD(self.parameters(), lr=0.1)\n"
        "    def metrics(self):\n"
        "        return {'accuracy': Accuracy(), 'loss': Loss(self.loss_fn())}\n"
        "model = Net()\n"
    )
    answer = executor.validate("pytorch", TORCH_IMPORTS, code, input_shape=[1, 28, 28])
    assert answer["ok"], answer
    result = answer["result"]
    assert shapes(result["inputs"]) == [[None, 1, 28, 28]]
    assert shapes(result["outputs"]) == [[None, 10]]
    rows = {r["name"]: r for r in result["layers"]}
    assert rows["conv"]["output_shape"] == [None, 4, 26, 26] and rows["conv"]["params"] == 40
    assert rows["fc"]["params"] == 4 * 26 * 26 * 10 + 10
    assert result["total_params"] == 40 + 27050
    assert result["optimizer"] == "SGD" and result["metrics"] == ["accuracy", "loss"]
    # without an input shape anywhere: a clear contract error on the class line
    answer = executor.validate("pytorch", TORCH_IMPORTS, code)
    assert not answer["ok"]
    assert answer["error"]["type"] == "MissingInputShape" and answer["error"]["line"] == 1


def test_syntax_error(executor):
    answer = executor.validate("tensorflow", TF_IMPORTS, "x = 1\nmodel = tf.keras.Sequential([\n")
    err = answer["error"]
    assert not answer["ok"] and err["type"] == "SyntaxError" and err["kind"] == "syntax"
    assert err["line"] == 2 and err["section"] == "code" and err["column"]
    assert err["source_line"] == "model = tf.keras.Sequential(["


def test_name_error_on_line_3(executor):
    code = "x = 1\ny = 2\nmodel = tf.keras.Sequential([tf.keras.Input((4,)), Dense(2)])\n"
    err = executor.validate("tensorflow", TF_IMPORTS, code)["error"]
    assert err["type"] == "NameError" and "Dense" in err["message"]
    assert (err["line"], err["section"]) == (3, "code")
    assert err["source_line"] == code.splitlines()[2]
    assert err["column"] == code.splitlines()[2].index("Dense") + 1


def test_error_in_imports_section(executor):
    err = executor.validate(
        "tensorflow", "import tensorflow as tf\nimport no_such_module\n", "model = None"
    )["error"]
    assert err["type"] == "ModuleNotFoundError"
    assert (err["section"], err["line"]) == ("imports", 2)


def test_error_inside_framework_points_at_user_line(executor):
    code = (
        "inp = tf.keras.Input(shape=(4,))\n"
        "x = tf.keras.layers.Dense(3)(inp)\n"
        "y = tf.keras.layers.Add()([x, inp])\n"
        "model = tf.keras.Model(inp, y)\n"
    )
    err = executor.validate("tensorflow", TF_IMPORTS, code)["error"]
    assert err["line"] == 3 and err["type"] == "ValueError"


def test_missing_model(executor):
    code = "net = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1)])\n"
    err = executor.validate("tensorflow", TF_IMPORTS, code)["error"]
    assert err["type"] == "MissingModel" and err["line"] == 1 and "`net`" in err["message"]
    err = executor.validate("tensorflow", TF_IMPORTS, "a = 1\nb = 2\n")["error"]
    assert err["type"] == "MissingModel" and err["line"] == 2
    assert "`model`" in err["message"]


def test_pytorch_model_without_loss_fn(executor):
    code = (
        "x = 1\n"
        "class Net(nn.Module):\n"
        "    input_shape = (4,)\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
        "    def optimizer(self):\n"
        "        return torch.optim.Adam(self.parameters())\n"
        "    def metrics(self):\n"
        "        return {'accuracy': Accuracy()}\n"
        "model = Net()\n"
    )
    err = executor.validate("pytorch", TORCH_IMPORTS, code)["error"]
    assert err["type"] == "MissingMethod" and "loss_fn" in err["message"]
    assert err["line"] == 2 and err["source_line"] == "class Net(nn.Module):"


def test_pytorch_forward_error_names_line(executor):
    code = (
        "class Net(nn.Module):\n"
        "    input_shape = (5,)\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
        "    def loss_fn(self): return nn.MSELoss()\n"
        "    def optimizer(self): return torch.optim.Adam(self.parameters())\n"
        "    def metrics(self): return {'loss': Loss(nn.MSELoss())}\n"
        "model = Net()\n"
    )
    err = executor.validate("pytorch", TORCH_IMPORTS, code)["error"]
    assert err["type"] == "RuntimeError" and err["line"] == 7


def _assert_alive(executor):
    tpl = TEMPLATES[0]
    answer = executor.validate(tpl["framework"], tpl["imports"], tpl["code"])
    assert answer["ok"], answer


def test_endless_loop_times_out(executor):
    t0 = time.monotonic()
    answer = executor.validate("tensorflow", "", "x = 0\nwhile True:\n    x += 1\n", timeout=2)
    err = answer["error"]
    assert err["kind"] == "timeout" and "2 s" in err["message"]
    assert err["line"] in (2, 3)
    assert time.monotonic() - t0 < 10
    _assert_alive(executor)


def test_busy_loop_that_swallows_the_timeout_is_killed(executor):
    code = (
        "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass\n"
    )
    t0 = time.monotonic()
    answer = executor.validate("tensorflow", "", code, timeout=1)
    assert answer["error"]["kind"] in ("timeout", "cpu")
    assert time.monotonic() - t0 < 8
    _assert_alive(executor)


def test_allocating_50_gb(executor):
    err = executor.validate("tensorflow", "", "big = bytearray(50 * 1024 ** 3)\n")["error"]
    assert err["kind"] == "memory" and "memory limit exceeded" in err["message"]
    assert err["line"] == 1
    err = executor.validate(
        "pytorch", "import torch\n", "x = 1\nbig = torch.empty(50 * 1024 ** 3, dtype=torch.uint8)\n"
    )["error"]
    assert err["kind"] == "memory" and err["line"] == 2
    _assert_alive(executor)


def test_killing_the_parent(executor):
    answer = executor.validate("tensorflow", "", "import os; os.kill(os.getppid(), 9)\n")
    assert not answer["ok"]
    assert answer["error"]["message"]
    # in its own PID namespace the parent is invisible (getppid() is 0: the kill is a no-op on
    # the job itself, its pid 1); without one the kill is refused or ends only the job
    assert answer["error"]["type"] in ("PermissionError", "ProcessKilled", "MissingModel")
    _assert_alive(executor)


def test_sys_exit_and_os_exit(executor):
    err = executor.validate("tensorflow", "import sys\n", "x = 1\nsys.exit()\n")["error"]
    assert err["type"] == "SystemExit" and err["line"] == 2
    err = executor.validate("tensorflow", "import os\n", "os._exit(3)\n")["error"]
    assert err["type"] == "ProcessExited" and "exit code 3" in err["message"]
    _assert_alive(executor)


def test_sandbox_environment(executor):
    code = (
        "import os, socket\n"
        "print('hello from model code')\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
        "assert 'MLCODE_EXECUTOR_PORT' not in os.environ and 'SECRET' not in str(os.environ)\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 1), timeout=1)\n"
        "except OSError as exc:\n"
        "    print('network:', exc)\n"
        "model = 1\n"
    )
    answer = executor.validate("tensorflow", "", code)
    assert answer["error"]["type"] == "InvalidModel", answer
    assert "hello from model code" in answer["stdout"]


def test_output_is_capped(executor):
    answer = executor.validate("tensorflow", "", "while True:\n    print('x' * 10000)\n", timeout=5)
    assert not answer["ok"]
    assert len(answer["stdout"]) < 20_000


def test_zygote_respawns_after_being_killed(executor):
    pid = executor.health()["sandbox"]["zygote_pid"]
    os.kill(pid, signal.SIGKILL)
    _assert_alive(executor)
    health = executor.health()["sandbox"]
    assert health["zygote_pid"] != pid and health["restarts"] >= 1


def test_concurrent_requests_isolated(executor):
    tpl = TEMPLATES[2]
    with ThreadPoolExecutor(3) as pool:
        crash = pool.submit(executor.validate, "tensorflow", "import os\n", "os._exit(1)\n")
        good = [
            pool.submit(executor.validate, tpl["framework"], tpl["imports"], tpl["code"])
            for _ in range(2)
        ]
        assert not crash.result()["ok"]
        assert all(f.result()["ok"] for f in good)


def test_distributed_template(executor):
    tpl = DISTRIBUTED_TEMPLATES[0]
    answer = executor.validate_chain(tpl["framework"], tpl["models"])
    assert answer["ok"], answer
    assert [link["name"] for link in answer["links"]] == ["edge → cloud"]


def _dist(inp, up, name):
    return (
        f"i = tf.keras.Input(shape=({inp},))\n"
        f"to_upper = tf.keras.layers.Dense({up}, name='{name}_up')(i)\n"
        f"out = tf.keras.layers.Dense(2, name='{name}_out')(to_upper)\n"
        "model = tf.keras.Model(i, [to_upper, out])\n"
    )


def test_distributed_chain_with_mismatched_link(executor):
    cloud = (
        "i = tf.keras.Input(shape=(16,))\nmodel = tf.keras.Model(i, tf.keras.layers.Dense(2)(i))\n"
    )
    models = [
        {"name": "edge", "imports": TF_IMPORTS, "code": _dist(10, 32, "edge")},
        {"name": "fog", "imports": TF_IMPORTS, "code": _dist(32, 8, "fog")},
        {"name": "cloud", "imports": TF_IMPORTS, "code": cloud},
    ]
    answer = executor.validate_chain("tensorflow", models)
    assert not answer["ok"]
    assert all(m["ok"] for m in answer["models"])
    links = {link["name"]: link for link in answer["links"]}
    assert links["edge → fog"]["ok"] is True
    assert links["fog → cloud"]["ok"] is False
    assert answer["error"]["link"] == "fog → cloud"
    assert "(None, 8)" in answer["error"]["message"] and "(None, 16)" in answer["error"]["message"]
    # a sub-model error is reported with its name and line
    models[1]["code"] = "x = 1\nmodel = undefined\n"
    answer = executor.validate_chain("tensorflow", models)
    assert answer["error"]["model"] == "fog" and answer["error"]["line"] == 2


def test_validate_kwargs_endpoint(executor):
    ok = executor.validate_kwargs("tensorflow", "epochs=5, shuffle=True, validation_split=0.1")
    assert ok == {"ok": True, "kwargs": {"epochs": 5, "shuffle": True, "validation_split": 0.1}}
    bad = executor.validate_kwargs("tensorflow", "epochs=__import__('os').system('id')")
    assert not bad["ok"] and bad["error"]["key"] == "epochs"


def test_bad_request(executor):
    req = urllib.request.Request(
        executor.base_url + "/validate",
        data=json.dumps({"framework": "jax"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {executor.secret}"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 400
    assert "framework" in json.loads(info.value.read())["errors"]


def test_job_runs_as_own_uid_in_a_private_workdir(executor):
    if not executor.health()["sandbox"]["jail"]["complete"]:
        pytest.skip("the sandbox is incomplete here")
    code = (
        "import os\n"
        "open('scratch.bin', 'wb').write(b'x' * 1000)\n"
        "mounts = {l.split()[1]: l.split()[2] for l in open('/proc/self/mounts')}\n"
        "raise RuntimeError(f'{os.getuid()} {mounts.get(os.getcwd())} {os.listdir(\"/proc\")}')\n"
    )
    answer = executor.validate("tensorflow", "", code)
    uid, fstype, procs = answer["error"]["message"].split(" ", 2)
    assert int(uid) >= 200000 and fstype == "tmpfs"  # nothing the job writes reaches the disk
    assert all(p in procs for p in ("'1'",)) and "'2'" not in procs  # its own PID namespace
