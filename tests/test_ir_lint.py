"""Graph.lint: the IR's invariants hold after every front-end stage over every shipped spec, and
each broken invariant is an IRError that names it (archspec's own mistake, never the spec's)."""
import dataclasses
from pathlib import Path

import pytest
from paths import ROOT, per_family

import archspec
from archspec.errors import Loc
from archspec.frontend import expand as expand_module
from archspec.ir import INPUT, Init, InitRule, IRError, Meta

SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests" / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", per_family(SPECS), ids=[p.stem for p in SPECS])
def test_every_graph_the_front_end_makes_passes_lint(path: Path, monkeypatch):
    """Each graph expansion makes (the spec's, and any a paper table's configurations make) is
    linted as it is made, then again after analyze's last stage (the table check)."""
    made = []

    def linted(*args, **kwargs):
        g = graph_of(*args, **kwargs)
        g.lint()
        made.append(g)
        return g
    graph_of = expand_module.graph_of
    monkeypatch.setattr(expand_module, "graph_of", linted)
    g = archspec.analyze(str(path))
    g.lint()
    assert made and g.readers and g.nodes            # the stage ran through the wrapper
    assert _foreign(g.meta) == [] and _foreign(g.init) == []
    kept = [(s.spec_params, s.let_exprs, s.arg_exprs, s.arg_env, s.index) for s in g.scopes.values()]
    kept += [n.exprs for n in g.nodes.values()]
    assert _foreign(kept) == []          # the spec's expressions, as emit reads them: text and plain values


PLAIN = (str, int, float, bool, type(None), Loc, Meta, Init, InitRule)


def _foreign(value, where: str = "") -> list[str]:
    """Where a value holds anything but plain Python, a location and the IR's own records (no spec
    model, no positioned YAML: dict and list subclasses are foreign too)."""
    if type(value) in (dict, list, tuple):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return [f for k, v in items for f in _foreign(v, f"{where}[{k!r}]")]
    if dataclasses.is_dataclass(value) and type(value) in PLAIN:
        return [f for fd in dataclasses.fields(value) for f in _foreign(getattr(value, fd.name), f"{where}.{fd.name}")]
    return [] if type(value) in PLAIN else [f"{where}: {type(value).__name__}"]


def test_foreign_values_are_found():
    from archspec.frontend.yamlpos import YList
    assert _foreign(Meta(params={"w": YList([1])})) == [".params['w']: YList"]


NET = "archspec: 1\ninput: [3, 8, 8]\nnodes:\n  - c: {op: conv, out: 4, k: 3, pad: 1}\n  - r: relu\n" \
      "  - s: {op: add, in: [c, r]}\n"


def _node(g, name, **changes):
    g.nodes[name] = dataclasses.replace(g.nodes[name], **changes)


BROKEN = {
    "inputs defined before use": lambda g: _node(g, "c", inputs=["s"]),      # a cycle
    "shapes present": lambda g: _node(g, "r", shape=None),
    "names valid and unique": lambda g: g.nodes.update({"c.x": dataclasses.replace(g.nodes["r"], name="c.x")}),
    "readers consistent": lambda g: g.readers["c"].append("nowhere"),
    "refs defined": lambda g: setattr(g.outputs[next(iter(g.outputs))], "node", "gone"),
}


@pytest.mark.parametrize("invariant", sorted(BROKEN))
def test_a_broken_invariant_is_named(spec_file, invariant):
    g = archspec.analyze(spec_file(NET))
    g.lint()                                       # whole, it passes
    BROKEN[invariant](g)
    with pytest.raises(IRError, match=f"IR invariant '{invariant}' broken"):
        g.lint()


def test_readers_and_in_place_are_the_irs():
    """Who reads each tensor, and which ops run in place (from the ops' fresh/inplace/view flags)."""
    g = archspec.analyze(str(ROOT / "specs" / "resnet18.yaml"))
    assert g.readers[INPUT] == ["conv1"] and g.readers["conv1"] == ["bn1"]
    relu = g.nodes["relu"] if "relu" in g.nodes else next(n for n in g.nodes.values() if n.op.name == "relu")
    assert g.in_place(relu)                          # after a batch norm nothing else reads
    adds = [n for n in g.nodes.values() if n.op.name == "add"]
    assert adds and all(g.in_place(n) for n in adds)            # out += identity
    assert not any(g.in_place(n) for n in g.nodes.values() if n.op.name == "conv")
