"""A block whose inputs and outputs follow its parameters (HRNet's exchange over `widths`):
`inputs:` and `outputs:` written as one expression of the parameters, laid nodes of one name under
exclusive `when:`s (one kind of fuse layer up, another down), a list's slice, and each mistake a
located error."""
import pytest

import archspec
from archspec.errors import SpecErrors

SPEC = """\
archspec: 1
input: [4, 16, 16]
params: {widths: [4, 8, 12]}
blocks:
  fan:
    params: {widths: list}
    inputs: "${[f'x{j}' for j in range(len(widths))]}"
    outputs: "${[f'outs[{j}]' for j in range(len(widths))]}"
    nodes:
      - repeat: "${len(widths)}"
        index: j
        node:
          - "outs[${j}]": {op: conv, out: "${widths[j] * 2}", k: 1, in: "x${j}", when: "${j % 2 == 0}"}
          - "outs[${j}]": {op: conv, out: "${widths[j]}", k: 1, in: "x${j}", when: "${j % 2 == 1}"}
nodes:
  - a: {op: conv, out: "${widths[0]}", k: 1}
  - b: {op: conv, out: "${widths[1]}", k: 1, in: input}
  - c: {op: conv, out: "${widths[2]}", k: 1, in: input}
  - two: {use: fan, widths: "${widths[:2]}", in: [a, b]}
  - three: {use: fan, widths: "${widths}", in: [a, b, c]}
  - pool: {op: global_avgpool, in: three.2}
"""


def graph(spec_file, text, **params):
    return archspec.analyze(archspec.load(spec_file(text), **params))


def errors(spec_file, text) -> list[str]:
    with pytest.raises(SpecErrors) as e:
        graph(spec_file, text)
    return [str(d) for d in e.value.diagnostics]


def test_the_inputs_and_outputs_follow_the_parameters(spec_file):
    g = graph(spec_file, SPEC)
    assert list(g.scopes["two"].outputs) == ["outs[0]", "outs[1]"]
    assert list(g.scopes["three"].inputs) == ["x0", "x1", "x2"]
    assert [g.shape_of(r)[0] for r in g.scopes["three"].outputs.values()] == [8, 8, 24]   # the kept node's
    assert g.nodes["pool"].shape == (24, 1, 1)


def test_a_slice_of_a_list(spec_file):
    g = graph(spec_file, SPEC)
    assert g.scopes["two"].args["widths"] == [4, 8]
    errs = errors(spec_file, SPEC.replace("widths[:2]", "widths[::2]"))
    assert any("net.yaml:19:29: error: two: in parameter 'widths': a slice takes no step" in e for e in errs), errs


def test_two_kept_nodes_of_one_name_are_an_error(spec_file):
    errs = errors(spec_file, SPEC.replace('when: "${j % 2 == 1}"', 'when: "${j < 2}"'))
    assert any("duplicate name 'outs[0]'" in e for e in errs), errs


def test_inputs_that_are_no_list_of_names_are_an_error_at_inputs(spec_file):
    errs = errors(spec_file, SPEC.replace("\"${[f'x{j}' for j in range(len(widths))]}\"", '"${len(widths)}"'))
    assert any("net.yaml:7:13: error: two: block 'fan': inputs: expected a list of names, got 2" in e
               for e in errs), errs


def test_a_computed_input_name_passes_the_validator(spec_file):
    errs = errors(spec_file, SPEC.replace("f'x{j}'", "f'x {j}'"))
    assert any("net.yaml:7:13: error: two: block 'fan' input name 'x 0' is not allowed" in e for e in errs), errs


def test_more_inputs_than_widths_is_an_error_at_in(spec_file):
    errs = errors(spec_file, SPEC.replace("in: [a, b]}", "in: [a, b, c]}"))
    assert any("net.yaml:19:50: error: two: block 'fan' takes 2 inputs (x0, x1), got 3" in e for e in errs), errs
