"""In-process tests of build_model, as the training worker uses it."""

import pytest

from mlcode_executor import usercode
from mlcode_executor.templates import TEMPLATES
from mlcode_executor.usercode import UserCodeError, build_model, check_chain


def test_importing_usercode_does_not_import_frameworks():
    import subprocess
    import sys

    code = (
        "import sys, mlcode_executor.usercode, mlcode_executor.kwargs;"
        "print('tensorflow' in sys.modules or 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_syntax_error_location_in_imports():
    with pytest.raises(UserCodeError) as info:
        build_model("tensorflow", "import os\nimport (\n", "model = 1")
    err = info.value.to_dict()
    assert err["section"] == "imports" and err["line"] == 2 and err["kind"] == "syntax"


def test_unknown_framework():
    with pytest.raises(ValueError):
        build_model("jax", "", "model = 1")


def test_build_templates_in_process():
    for tpl in TEMPLATES:
        model = build_model(tpl["framework"], tpl["imports"], tpl["code"])
        summary = usercode.describe_model(tpl["framework"], model)
        assert summary["total_params"] in (101770, 5121)


def test_check_chain_pure():
    def res(ins, outs):
        return {"inputs": [{"shape": s} for s in ins], "outputs": [{"shape": s} for s in outs]}

    links = check_chain(
        [
            {"name": "edge", "result": res([[None, 4]], [[None, 8], [None, 2]])},
            {"name": "fog", "result": res([[None, 8]], [[None, 3], [None, 2]])},
            {"name": "cloud", "result": res([[None, 5]], [[None, 2]])},
        ]
    )
    assert [link["ok"] for link in links] == [True, False]
    assert links[1]["name"] == "fog → cloud" and "(None, 3)" in links[1]["message"]
