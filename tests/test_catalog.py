"""`archspec list`: the library as one table, each network's counts and whether its reference holds."""
import json

from paths import ALL_SPECS, SPECS

import archspec
from archspec.cli import main


def test_list_covers_every_network_and_every_reference_holds(capsys):
    assert main(["list", str(SPECS), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries] == [archspec.load(str(p)).name for p in ALL_SPECS]
    assert all(e["holds"] for e in entries), [e["name"] for e in entries if not e["holds"]]
    resnet50 = next(e for e in entries if e["name"] == "resnet50")
    assert (resnet50["params"], resnet50["macs"], resnet50["input"]) == (25557032, 4089184256, [3, 224, 224])


def test_list_fails_on_a_false_reference_or_a_broken_spec(capsys, in_tmp):
    (in_tmp / "lib").mkdir()
    (in_tmp / "lib" / "a.yaml").write_text("archspec: 1\ninput: [3, 8, 8]\nreference: {params: 1, source: me}\n"
                                           "nodes:\n  - c: {op: conv, out: 4, k: 3}\n")
    (in_tmp / "lib" / "b.yaml").write_text("archspec: 1\ninput: [3, 8, 8]\nnodes:\n  - c: {op: cnov}\n")
    assert main(["list", "lib"]) == 1
    out = capsys.readouterr().out
    assert "me (DOES NOT HOLD)" in out and "error: lib/b.yaml:4:" in out
    assert main(["list", "nowhere"]) == 1
