"""An exchange between resolutions (emit/exchange.py) is written as HRNet's own code writes it: the
block takes a list and gives one, its branches run by a comprehension, its fuse layers by a nested
loop; its callers pass a list and read the items. The state_dict is the graph's, the numbers
those of the modules run one by one in the spec's order (an oracle written here from the modules,
to the last bit), the source in the whitelist, whose mutants are refused. A block that is not
exactly such an exchange (a sum in another order, a fuse layer missing, outputs that are not one
list's members) keeps the unrolled form."""
from __future__ import annotations

import pytest
import torch
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.pytorch.compiler import check, load_source, source

EXCHANGE = """archspec: 1
input: [3, 16, 16]
blocks:
  exchange:
    params: {c: list, pre: false}
    inputs: [x0, x1, x2]
    outputs: ["fuse_acts[0]", "fuse_acts[1]", "fuse_acts[2]"]
    nodes:
      - prep: {op: conv, out: "${c[0]}", k: 1, in: x0, when: "${pre}"}
      - branches[0]: {op: conv, out: "${c[0]}", k: 3, pad: 1}
      - branches[1]: {op: conv, out: "${c[1]}", k: 3, pad: 1, in: x1}
      - branches[2]: {op: conv, out: "${c[2]}", k: 3, pad: 1, in: x2}
      - fuse_layers[0][1]: {in: "branches[1]", seq: [{op: conv, out: "${c[0]}", k: 1}, {op: upsample, scale: 2}]}
      - fuse_layers[0][2]: {in: "branches[2]", seq: [{op: conv, out: "${c[0]}", k: 1}, {op: upsample, scale: 4}]}
      - fuse_layers[1][0]: {in: "branches[0]", op: conv, out: "${c[1]}", k: 3, stride: 2, pad: 1}
      - fuse_layers[1][2]: {in: "branches[2]", seq: [{op: conv, out: "${c[1]}", k: 1}, {op: upsample, scale: 2}]}
      - fuse_layers[2][0]: {in: "branches[0]", op: conv, out: "${c[2]}", k: 5, stride: 4, pad: 2}
      - fuse_layers[2][1]: {in: "branches[1]", op: conv, out: "${c[2]}", k: 3, stride: 2, pad: 1}
      - sum0: {op: add, in: ["branches[0]", "fuse_layers[0][1]", "fuse_layers[0][2]"]}
      - fuse_acts[0]: relu
      - sum1: {op: add, in: ["fuse_layers[1][0]", "branches[1]", "fuse_layers[1][2]"]}
      - fuse_acts[1]: relu
      - sum2: {op: add, in: ["fuse_layers[2][0]", "fuse_layers[2][1]", "branches[2]"]}
      - fuse_acts[2]: relu
nodes:
  - stem: {op: conv, out: 4, k: 3, pad: 1}
  - mid: {op: conv, out: 6, k: 3, stride: 2, pad: 1}
  - low: {op: conv, out: 8, k: 3, stride: 2, pad: 1, in: mid}
  - first: {use: exchange, c: [4, 6, 8], pre: PRE1, in: [stem, mid, low]}
  - second: {use: exchange, c: [4, 6, 8], pre: PRE2}
  - pool: {op: global_avgpool, in: second.2}
  - side: {op: global_avgpool, in: first.0}
  - {op: concat, in: [pool, side]}
  - flatten
"""
PLAIN = EXCHANGE.replace("PRE1", "false").replace("PRE2", "false")
FORWARD = """    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(x_i) for branch, x_i in zip(self.branches, x)]
        x_fuse = []
        for i, fuse_layer in enumerate(self.fuse_layers):
            y = x[0] if i == 0 else fuse_layer[0](x[0])
            for j in range(1, len(x)):
                y = y + (x[j] if i == j else fuse_layer[j](x[j]))
            x_fuse.append(self.fuse_acts[i](y))
        return x_fuse
"""


def _model(text: str, spec_file) -> tuple[str, nn.Module]:
    path = spec_file(text)
    src = source(path)
    check_generated_source(src)
    assert check(path).ok            # probe mode: unrolled, every sum reported by its name
    model = load_source(src).Model().eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    return src, model


def _exchanged(block: nn.Module, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """The exchange by its modules, one by one: each output sums, in the order of j, branch j's
    output (its own resolution) or that brought through fuse layer [i][j]."""
    if hasattr(block, "prep"):
        xs = [block.prep(xs[0]), *xs[1:]]
    b = [block.branches[j](xs[j]) for j in range(3)]
    out = []
    for i in range(3):
        terms = [b[j] if i == j else block.fuse_layers[i][j](b[j]) for j in range(3)]
        out.append(torch.relu(terms[0] + terms[1] + terms[2]))
    return out


def _oracle(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    stem = m.stem(x)
    mid = m.mid(stem)
    first = _exchanged(m.first, [stem, mid, m.low(mid)])
    second = _exchanged(m.second, first)
    pooled = [t.mean((2, 3)) for t in (second[2], first[0])]
    return torch.cat(pooled, 1)


def test_an_exchange_takes_and_gives_a_list_with_the_numbers_of_its_modules_run_one_by_one(spec_file):
    src, m = _model(PLAIN, spec_file)
    assert src.count(FORWARD) == 1         # one class serves both
    top = src[src.rindex("def forward"):]
    assert "x = self.first([stem, mid, low])\n" in top
    assert "x = self.second([x[0], x[1], x[2]])\n" not in top     # first.0 is still read: a new list
    assert "xs = self.second([x[0], x[1], x[2]])\n" in top
    assert "pool = self.pool(xs[2])" in top and "side = self.side(x[0])" in top
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _oracle(m, x), rtol=0, atol=0)


@pytest.mark.parametrize("pre", ["first", "second"])
def test_an_instance_with_a_child_the_other_lacks_is_a_class_of_its_own(spec_file, pre):
    """The instance with `prep` is not an exchange, unrolled; the other keeps its list (the two
    structures of the block are not joined into one class with an optional `prep`, whose forward
    would be unrolled while the other's caller passes a list), whichever comes first."""
    text = EXCHANGE.replace("PRE1", str(pre == "first").lower()).replace("PRE2", str(pre == "second").lower())
    src, m = _model(text, spec_file)
    assert src.count(FORWARD) == 1
    assert "class ExchangePre(nn.Module):" in src
    assert ("out, out_1, out_2 = self.second(x[0], x[1], x[2])" in src) == (pre == "second")
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _oracle(m, x), rtol=0, atol=0)


@pytest.mark.parametrize("old, new", [
    ('["fuse_layers[1][0]", "branches[1]", "fuse_layers[1][2]"]',     # another order of rounding
     '["branches[1]", "fuse_layers[1][0]", "fuse_layers[1][2]"]'),
    ('"branches[0]", "fuse_layers[0][1]", "fuse_layers[0][2]"]', '"branches[0]", "fuse_layers[0][1]"]'),
    ("fuse_acts[1]", "acts1"),                                             # outputs of no one list
    ("- sum2: {op: add,", "- sum2: {op: mul,"),                            # not a sum
    ("fuse_layers[0][2]", "fuse_layers[0][5]"),                            # a fuse layer from no input
    ('"fuse_layers[2][1]", "branches[2]"]}', '"fuse_layers[2][1]", "branches[2]", "branches[2]"]}'),
])
def test_a_block_that_is_not_exactly_an_exchange_stays_unrolled(spec_file, old, new):
    text = PLAIN
    assert old in text
    text = text.replace(old, new)
    if "fuse_layers[0][1]\"]" in text:           # as many fuse layers, but [3][2] for [0][2]
        text = text.replace("- fuse_layers[0][2]:", "- fuse_layers[3][2]:")
    src, m = _model(text, spec_file)
    assert "list[torch.Tensor]" not in src and "x_fuse" not in src
    m(torch.randn(2, 3, 16, 16))


TWO = """archspec: 1
input: [3, 8, 8]
blocks:
  exchange:
    inputs: [x0, x1]
    outputs: ["fuse_acts[0]", "fuse_acts[1]"]
    nodes:
      - branches[0]: {op: conv, out: 4, k: 3, pad: 1, in: x0}
      - branches[1]: {op: conv, out: 4, k: 3, pad: 1, in: x1}
      - fuse_layers[0][1]: {op: conv, out: 4, k: 1, in: "branches[1]"}
      - fuse_layers[1][0]: {op: conv, out: 4, k: 1, in: "branches[0]"}
      - sum0: {op: add, in: ["branches[0]", "fuse_layers[0][1]"]}
      - fuse_acts[0]: relu
      - sum1: {op: add, in: ["fuse_layers[1][0]", "branches[1]"]}
      - fuse_acts[1]: relu
nodes:
  - a: {op: conv, out: 4, k: 1}
  - b: {op: conv, out: 4, k: 3, pad: 1, in: input}
  - ex: {use: exchange, in: [a, b]}
  - {op: concat, in: [ex.0, ex.1]}
"""


PAIR = """blocks:
  pair:
    outputs: [p, q]
    nodes:
      - p: {op: conv, out: 4, k: 3, pad: 1}
      - q: {op: conv, out: 4, k: 1, in: input}
"""


@pytest.mark.parametrize("old, new", [
    ("", ""),                                                              # (an exchange)
    ("pad: 1, in: x0}", "pad: 1, in: x1}"),                                # the branches read the inputs swapped
    ("k: 1, in: \"branches[1]\"}", "k: 1, in: \"branches[0]\"}"),          # a fuse layer reads another branch
    ('outputs: ["fuse_acts[0]", "fuse_acts[1]"]', 'outputs: ["fuse_acts[1]", "fuse_acts[0]"]'),
    ("      - fuse_acts[1]: relu\n", "      - fuse_acts[1]: relu\n      - extra: {op: conv, out: 4, k: 1, in: x0}\n"),
    ("      - fuse_acts[1]: relu\n", "      - fuse_acts[1]: {op: relu, in: sum0}\n"),    # not its own sum
    ("branches[0]", "left"),                                               # branches of no list
    ("fuse_layers[1][0]", "others[1][0]"),                                 # fuse layers of two lists
    ("{op: conv, out: 4, k: 3, pad: 1, in: x1}", "{op: contiguous, in: x1}"),     # a branch of no module
    ("- branches[1]: {op: conv, out: 4, k: 3, pad: 1, in: x1}", "- branches[1]: {use: pair, in: x1}"),
])
def test_two_resolutions_alike_in_shape_are_an_exchange_only_as_written(spec_file, old, new):
    """Where both resolutions have one shape, only the graph tells a branch reading the other's
    input, a fuse layer reading the other branch, outputs in another order or one more child."""
    text = TWO.replace(old, new) if old else TWO
    assert old in TWO and text.count("in: x") == 2 + bool("extra" in new)
    if "pair" in new:          # a branch of two outputs, the second read by nothing
        text = text.replace('"branches[1]"', '"branches[1].0"').replace("blocks:\n", PAIR)
    if "in: x1}" in new:
        text = text.replace("pad: 1, in: x1}\n      - branches[1]: {op: conv, out: 4, k: 3, pad: 1, in: x1}",
                            "pad: 1, in: x1}\n      - branches[1]: {op: conv, out: 4, k: 3, pad: 1, in: x0}")
    src, m = _model(text, spec_file)
    assert ("list[torch.Tensor]" in src) == (old == "")
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        a, b = m.a(x), m.b(x)
        ex = m.ex
        if old == "":
            br = [ex.branches[0](a), ex.branches[1](b)]
            want = torch.cat([torch.relu(br[0] + ex.fuse_layers[0][1](br[1])),
                              torch.relu(ex.fuse_layers[1][0](br[0]) + br[1])], 1)
            torch.testing.assert_close(m(x), want, rtol=0, atol=0)
        else:
            m(x)


GATHERED = TWO.replace("  - b: {op: conv, out: 4, k: 3, pad: 1, in: input}\n", "")
GATHERED = GATHERED.replace("""  - ex: {use: exchange, in: [a, b]}
  - {op: concat, in: [ex.0, ex.1]}""", """  - transition1[0]: {op: conv, out: 4, k: 1, in: a}
  - transition1[1]: {op: conv, out: 4, k: 3, pad: 1, in: a}
  - ex: {use: exchange, in: ["transition1[0]", "transition1[1]"]}
  - {op: concat, in: [ex.0, ex.1]}""")


@pytest.mark.parametrize("old, new", [
    ("", ""),
    ('in: ["transition1[0]", "transition1[1]"]', 'in: ["transition1[1]", "transition1[0]"]'),    # not in order
    ("in: [ex.0, ex.1]", 'in: [ex.0, ex.1, "transition1[1]"]'),                    # read by another too
    ("- {op: concat, in: [ex.0, ex.1]}\n",                                        # a network's output
     '- cat: {op: concat, in: [ex.0, ex.1]}\noutputs: {cat: cat, side: "transition1[1]"}\n'),
])
def test_members_on_one_input_that_an_exchange_takes_are_its_list(spec_file, old, new):
    """timm's `self.stage2([t(x) for t in self.transition1])`: the members' comprehension is the
    list the exchange takes, where they are all it takes, in order, and nothing else reads them
    (nor is an output of the network)."""
    assert old in GATHERED
    src, m = _model(GATHERED.replace(old, new) if old else GATHERED, spec_file)
    gathered = "x = self.ex([transition(a) for transition in self.transition1])\n" in src
    assert gathered == (old == "") and "list[torch.Tensor]" in src
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        a = m.a(x)
        t = [m.transition1[0](a), m.transition1[1](a)]
        t = t[::-1] if "[1]\", \"transition1[0]" in new else t
        br = [m.ex.branches[0](t[0]), m.ex.branches[1](t[1])]
        out = [torch.relu(br[0] + m.ex.fuse_layers[0][1](br[1])), torch.relu(m.ex.fuse_layers[1][0](br[0]) + br[1])]
        want = torch.cat(out + [t[1]] * ("ex.1, " in new), 1)
        got = m(x)
        torch.testing.assert_close(got["cat"] if "side" in new else got, want, rtol=0, atol=0)


MAPPED = TWO.replace("""  - {op: concat, in: [ex.0, ex.1]}""", """  - heads[0]: {op: conv, out: 5, k: 1, in: ex.0}
  - heads[1]: {op: conv, out: 6, k: 1, in: ex.1}
  - {op: concat, in: ["heads[0]", "heads[1]"]}""")


@pytest.mark.parametrize("old, new", [
    ("", ""),
    ("k: 1, in: ex.0}", "k: 1, in: ex.1}"),                                # not item for item
    ("  - heads[1]: {op: conv, out: 6, k: 1, in: ex.1}\n", "  - heads[1]: {op: conv, out: 6, k: 1, in: b}\n"),
    ('in: ["heads[0]", "heads[1]"]', 'in: ["heads[0]", "heads[1]", ex.1]'),   # an item read later: kept
])
def test_members_mapping_a_list_item_for_item_are_a_comprehension_over_it(spec_file, old, new):
    """timm's incre modules, `[incre(x_i) for incre, x_i in zip(self.incre_modules, x)]`: the k-th
    member reads item k alone of a list (all of them, in order); a list itself, read by its items."""
    assert old in MAPPED
    src, m = _model(MAPPED.replace(old, new) if old else MAPPED, spec_file)
    mapped = "[head(x_i) for head, x_i in zip(self.heads, x)]" in src
    assert mapped == (old in ("", 'in: ["heads[0]", "heads[1]"]'))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        a, b = m.a(x), m.b(x)
        br = [m.ex.branches[0](a), m.ex.branches[1](b)]
        ys = [torch.relu(br[0] + m.ex.fuse_layers[0][1](br[1])), torch.relu(m.ex.fuse_layers[1][0](br[0]) + br[1])]
        ins = [ys[1], ys[1]] if "in: ex.1}" in new else [ys[0], b] if "in: b}" in new else ys
        want = torch.cat([m.heads[0](ins[0]), m.heads[1](ins[1])] + [ys[1]] * ("ex.1]" in new), 1)
        torch.testing.assert_close(m(x), want, rtol=0, atol=0)
    if old == "":
        comp = "[head(x_i) for head, x_i in zip(self.heads, x)]"
        _refused(src, [(f"x = {comp}", f"x = {d}") for d in [
            "[x_i(head) for head, x_i in zip(self.heads, x)]", "[head(x_i) for head, x_i in map(self.heads, x)]",
            "[head(x_i) for head, x_i in zip(x, x)]", "[head(x_i) for head, x_i in zip(self.heads, self)]",
            "[head(x) for head, x in zip(self.heads, x)]", "[head(head) for head, head in zip(self.heads, x)]",
            "[head(x_i) for head, x_i in zip(self.heads, x) if x_i]",
            "[head(x_i, x) for head, x_i in zip(self.heads, x)]", "[head(x_i) for head, x_i in zip(self.heads, y)]"]])


@pytest.mark.parametrize("old, new", [
    ("  - heads[1]:", "  - side: {op: conv, out: 6, k: 1, in: ex.1}\n  - heads[1]:"),    # another between
    ("- heads[1]: {op: conv, out: 6, k: 1, in: ex.1}", "- heads[1]: {use: pair, in: ex.1}"),  # of two outputs
    ("- heads[1]: {op: conv, out: 6, k: 1, in: ex.1}", "- heads[1]: {use: mix, in: [ex.1, b]}"),  # of two inputs
])
def test_members_that_do_not_map_a_list_item_for_item_are_no_comprehension(spec_file, old, new):
    text = MAPPED.replace(old, new).replace("blocks:\n", PAIR + MIX)
    text = text.replace('"heads[1]"]}', '"heads[1].0", "heads[1].1"]}' if "pair" in new else
                        '"heads[1]", side]}' if "side" in new else '"heads[1]"]}')
    assert old in MAPPED
    src, m = _model(text, spec_file)
    assert "x_i" not in src.split("class Net")[1]
    m(torch.randn(2, 3, 8, 8))


MIX = """  mix:
    inputs: [p, q]
    nodes:
      - {op: add, in: [p, q]}
"""


def _refused(text: str, mutants: list[tuple[str, str]]) -> None:
    for old, new in mutants:
        assert old in text, old
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(text.replace(old, new))


def test_the_whitelist_admits_the_exchange_and_its_callers_exactly(spec_file):
    src, _ = _model(PLAIN, spec_file)
    _refused(src, [
        ("y = y + (x[j]", "y = y * (x[j]"),                                       # another sum
        ("x_fuse.append(self.fuse_acts[i](y))", "x_fuse.append(self.fuse_acts[i](y))\n            print(y)"),
        ("            x_fuse.append(self.fuse_acts[i](y))\n",
         "            x_fuse.append(self.fuse_acts[i](y))\n            x_fuse.append(eval('1'))\n"),
        ("fuse_layer", "torch"),                                                  # a loop variable hiding a global
        ("branch(x_i) for branch,", "fuse_layer(x_i) for fuse_layer,"),           # the two loop variables one
        ("self.fuse_acts[i](y)", "self._modules[i](y)"),                          # a private list
        ("self.branches, x)", "self.branches, x, x)"),
        ("        return x_fuse\n", "        return x\n"),
        ("def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:",      # a list forward's other body
         "def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:\n        return x"),
        ("pool = self.pool(xs[2])", "pool = self.pool(xs[x])"),
        ("pool = self.pool(xs[2])", "pool = self.pool(xs['2'])"),
        ("pool = self.pool(xs[2])", "pool = self.pool(self[2])"),                 # of a local
        ("pool = self.pool(xs[2])", "pool = self.pool(ys[2])"),
        ("pool = self.pool(xs[2])", "xs[2] = self.pool(xs[2])"),                  # read, not stored
    ])
    root = src.rindex("\nclass ")                          # not the root's forward
    for mutant in [src[:root] + src[root:].replace("-> torch.Tensor:", "-> list[torch.Tensor]:"),
                   src[:root] + src[root:].replace("(self, x: torch.Tensor)", "(self, x: list[torch.Tensor])")]:
        assert mutant != src
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    init = src.index("super().__init__()\n")                 # an item read in __init__: forward's alone
    with pytest.raises(AssertionError, match="whitelist"):
        check_generated_source(src[:init] + "super().__init__()\n        c = 4\n        self.c = nn.Identity(c[0])\n"
                               + src[init + len("super().__init__()\n"):])


LADDER = PLAIN.split("  - first:")[0] + """  - first: {use: exchange, c: [4, 6, 8], in: [stem, mid, low]}
  - downs[0]: {op: conv, out: 6, k: 3, stride: 2, pad: 1, in: first.0}
  - sum1: {op: add, in: [first.1, "downs[0]"]}
  - downs[1]: {op: conv, out: 8, k: 3, stride: 2, pad: 1}
  - sum2: {op: add, in: [first.2, "downs[1]"]}
  - flatten
"""
PAIR2 = """blocks:
  pair2:
    outputs: [p, q]
    nodes:
      - p: {op: conv, out: 6, k: 3, stride: 2, pad: 1}
      - q: {op: conv, out: 6, k: 1, in: input}
"""


@pytest.mark.parametrize("old, new", [
    ("", ""),
    ('in: [first.1, "downs[0]"]', 'in: ["downs[0]", first.1]'),                 # the sum's other order
    ("pad: 1, in: first.0}", "pad: 1, in: stem}"),                              # not the list's first item
    ("- downs[1]: {op: conv, out: 8, k: 3, stride: 2, pad: 1}",                 # not the sum before
     "- downs[1]: {op: conv, out: 8, k: 3, stride: 2, pad: 1, in: first.1}"),
    ('in: [first.2, "downs[1]"]', 'in: [low, "downs[1]"]'),                     # not the list's next item
    ("  - flatten\n", "  - side: {op: conv, out: 6, k: 1, in: sum1}\n  - {op: add, in: [side, first.1]}\n"),
    ('  - sum2: {op: add, in: [first.2, "downs[1]"]}\n  - flatten\n', ""),      # no last sum
    ("- downs[1]: {op: conv, out: 8, k: 3, stride: 2, pad: 1}",                 # another in the second's place
     "- other: {op: conv, out: 8, k: 3, stride: 2, pad: 1}"),
    ("- downs[0]: {op: conv, out: 6, k: 3, stride: 2, pad: 1, in: first.0}",    # a step of two outputs
     "- downs[0]: {use: pair2, in: first.0}"),
    ("  - flatten\n", "  - flatten\noutputs: {out: flatten, side: sum1}\n"),     # a step's value an output
    ("  - downs[0]:", "  - second: {use: exchange, c: [4, 6, 8], in: [stem, mid, low]}\n  - downs[0]:"),
])
def test_a_ladder_up_a_list_is_an_enumerate_loop(spec_file, old, new):
    """HRNet's head: `out = x[0]`, then `for i, down in enumerate(self.downs): out = x[i + 1] +
    down(out)`, where the members and sums climb the list's items in order, each value read by the
    next step alone; anything else stays unrolled."""
    assert old in LADDER
    text = LADDER.replace(old, new) if old else LADDER
    if "other:" in new:
        text = text.replace('in: [first.2, "downs[1]"]', "in: [first.2, other]").replace(
            "  - flatten\n", "  - downs[1]: {op: conv, out: 8, k: 1, in: sum2}\n  - flatten\n")
    if "pair2" in new:           # its second output read by nothing
        text = text.replace("blocks:\n", PAIR2).replace('"downs[0]"]', '"downs[0].0"]')
    if "second" in new:          # the ladder climbs the second of two lists alike
        text = text.replace("first.", "second.")
    src, m = _model(text, spec_file)
    looped = "for i, down in enumerate(self.downs):\n            out = xs[i + 1] + down(out)\n" in src \
        if "second" in new else "for i, down in enumerate(self.downs):\n            out = x[i + 1] + down(out)\n" in src
    assert looped == (old == "" or "second" in new)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = m(x)
        if old == "":
            stem = m.stem(x)
            mid = m.mid(stem)
            first = _exchanged(m.first, [stem, mid, m.low(mid)])
            want = (first[2] + m.downs[1](first[1] + m.downs[0](first[0]))).flatten(1)
            torch.testing.assert_close(out, want, rtol=0, atol=0)
    if old == "":
        loop = "        for i, down in enumerate(self.downs):\n            out = x[i + 1] + down(out)\n"
        _refused(src, [(loop, loop.replace(a, b)) for a, b in [
            ("x[i + 1]", "x[i - 1]"), ("x[i + 1]", "x[j + 1]"), ("x[i + 1]", "x[i + 1.5]"),
            ("x[i + 1]", "x[i + i]"), ("down(out)", "down(out) * i"),
            ("self.downs", "x"), ("self.downs)", "self.downs, 1)"),
            ("enumerate", "zip"), ("self.downs", "zip(self.downs, self.downs)"),
            ("+ down(out)\n", "+ down(out)\n            out += down\n")]])
        _refused(src, [("out = x[0]\n", "i = x[0]\n        out = i\n"),            # a loop index, no value's
                       ("out = x[0]\n", "out = x[0 + 0]\n"),
                       (loop, loop + "        out = x[i]\n"),                        # the index outside its loop
                       (loop, loop.replace("i, down", "j, down").replace("[i + 1]", "[j + 1]")),   # j: no index
                       (loop, loop.replace("i, down", "i, x").replace("down(out)", "x(out)")),   # not fresh
                       (loop, loop.replace("i, down", "i, i").replace("down(out)", "i(out)"))])


@pytest.mark.parametrize("name, loop", [
    ("i", "for k, down in enumerate(self.downs):\n            out = x[k + 1] + down(out)"),
    ("down", "for i, module in enumerate(self.downs):\n            out = x[i + 1] + module(out)")])
def test_a_climbs_loop_variables_are_names_forward_has_not_given(spec_file, name, loop):
    """A value named `i` or `down` read before the climb, dead there: its loop names its index
    and its member otherwise (the whitelist takes loop variables that hide no variable of forward's)."""
    mid = "  - mid: {op: conv, out: 6, k: 3, stride: 2, pad: 1}\n"
    text = LADDER.replace(mid, f"  - {name}: {{op: conv, out: 4, k: 1}}\n" + mid)
    text = text.replace("in: [stem, mid, low]}", "in: [j, mid, low]}").replace(
        "  - first:", f"  - j: {{op: add, in: [stem, {name}]}}\n  - first:")
    assert f"{name} = self.{name}(stem)" in source(spec_file(text))       # given, and dead before the climb
    src, m = _model(text, spec_file)
    assert f"        {loop}\n" in src
    m(torch.randn(2, 3, 16, 16))
