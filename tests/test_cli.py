"""The torch-free commands, end to end."""
import json
import subprocess
import sys

import pytest
from paths import ROOT, SPECS

from archspec.cli import main


def test_validate_summary_schema_never_import_torch():
    code = (
        "import sys\n"
        "from archspec.cli import main\n"
        f"assert main(['validate', {str(SPECS / 'resnet50.yaml')!r}, {str(SPECS / 'googlenet.yaml')!r}]) == 0\n"
        f"assert main(['summary', {str(SPECS / 'densenet121.yaml')!r}, '--depth', '2']) == 0\n"
        f"assert main(['summary', {str(SPECS / 'lenet5.yaml')!r}, '--json']) == 0\n"
        "assert main(['schema']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_summary_json(capsys):
    assert main(["summary", str(SPECS / "resnet50.yaml"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["name"] == "resnet50" and d["input"] == [3, 224, 224]
    assert d["outputs"] == {"output": [1000]}
    assert (d["params"], d["macs"], d["flops"]) == (25557032, 4089184256, 2 * 4089184256)
    assert d["buffers"] == 53120 + 53     # running mean/var of 53 BNs + their num_batches_tracked
    conv1 = d["nodes"][[n["name"] for n in d["nodes"]].index("layer1.0.conv1")]
    assert conv1 == {"name": "layer1.0.conv1", "op": "conv", "label": "conv 1x1, 64", "shape": [64, 56, 56],
                     "params": 4096, "buffers": 0, "macs": 4096 * 56 * 56}
    assert sum(n["params"] for n in d["nodes"]) == d["params"]
    assert d["activations"] == sum(n["shape"][0] * (n["shape"][1] * n["shape"][2] if len(n["shape"]) == 3 else 1)
                                   for n in d["nodes"])


def test_summary_table_depth_and_set(capsys):
    assert main(["summary", str(SPECS / "resnet18.yaml"), "--depth", "1", "--set", "num_classes=10"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln and ln.split()[0].startswith(("layer", "fc"))}
    assert set(rows) == {"layer1", "layer2", "layer3", "layer4", "fc"}
    assert "stage" in rows["layer2"] and "(128, 28, 28)" in rows["layer2"]
    assert "5,130" in rows["fc"]                      # 512 * 10 + 10
    assert "FLOPs = 2 x MACs" in out


def test_summary_formats(capsys):
    for fmt, marker in [("md", "| node | op |"), ("csv", "node,op,output,params,buffers,macs")]:
        assert main(["summary", str(SPECS / "lenet5.yaml"), "--format", fmt]) == 0
        assert marker in capsys.readouterr().out


def test_set_value_is_yaml(capsys):
    assert main(["summary", str(SPECS / "resnet18.yaml"), "--json", "--set", "layers=[1, 1, 1, 1]"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert not any(n["name"].startswith("layer1.1.") for n in d["nodes"])


def test_validate_many_files_exit_code(capsys, spec_file):
    bad = spec_file("archspec: 1\ninput: [3, 8, 8]\nnodes: [{op: nope}]\n")
    assert main(["validate", str(SPECS / "vgg16.yaml"), bad]) == 1
    out = capsys.readouterr()
    assert "vgg16.yaml: ok" in out.out and "unknown op 'nope'" in out.err


def test_python_dash_m_and_console_script():
    r = subprocess.run([sys.executable, "-m", "archspec", "validate", str(SPECS / "alexnet.yaml")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "60,965,224 params" in r.stdout


def test_validate_checks_block_libraries(capsys, spec_file):
    assert main(["validate", str(SPECS / "blocks" / "resnet.yaml"), str(SPECS / "blocks" / "densenet.yaml")]) == 0
    assert "resnet.yaml: ok (block library: " in capsys.readouterr().out
    lib = spec_file("archspec: 1\nblocks:\n  b:\n    nodes:\n      - a: {op: conv, out: 3, kernel: 3}\n"
                    "      - a: relu\n      - {op: add, in: [a, zz]}\n      - {repeat: 2, node: {op: relx}}\n")
    assert main(["validate", lib]) == 1
    err = capsys.readouterr().err
    assert f"{lib}:5:31: error: unknown attribute 'kernel' for op conv" in err
    assert f"{lib}:6:9: error: b.a: duplicate name 'a'" in err
    assert f"{lib}:7:27: error: b.add: undefined input 'zz'" in err
    assert f"{lib}:8:32: error: unknown op or block 'relx'" in err and "did you mean 'relu'?" in err
    assert main(["summary", lib]) == 1
    assert "it is a block library, not a network" in capsys.readouterr().err


def test_summary_checks_the_specs_reference(capsys):
    assert main(["summary", str(SPECS / "resnet50.yaml")]) == 0
    assert ("reference (torchvision 0.29.1 resnet50, FlopCounterMode/2): params 25,557,032 matches; "
            "macs 4,089,184,256 matches") in capsys.readouterr().out
    assert main(["summary", str(SPECS / "resnet50.yaml"), "--set", "num_classes=10"]) == 0
    assert "not checked (parameters were overridden)" in capsys.readouterr().out


def test_version_is_the_packages(capsys):
    """`archspec --version`: the one __version__ (archspec/version.py), which pyproject.toml reads too."""
    import archspec
    from archspec.version import __version__
    r = subprocess.run([sys.executable, "-m", "archspec", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout == f"archspec {__version__}\n" and r.stderr == ""
    assert archspec.__version__ == __version__ and __version__.count(".") == 2
    assert 'version = {attr = "archspec.version.__version__"}' in (ROOT / "pyproject.toml").read_text()
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"archspec {__version__}\n"
