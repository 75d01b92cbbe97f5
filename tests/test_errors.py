"""Every error a user can cause: reported at its YAML location with the node
path, the actual values and a hint; several at once; never a traceback."""
import os

from archspec.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.err


def errors_of(capsys, spec_file, text, *extra):
    path = spec_file(text)
    code, err = run(capsys, "validate", path, *extra)
    assert code == 1
    assert "Traceback" not in err and "internal error" not in err
    return os.path.basename(path), err


HEAD = "archspec: 1\ninput: [3, 32, 32]\n"


def test_yaml_syntax_error(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: 4, k: [1, 1}\n")
    assert f"{name}:4:35: error: YAML syntax error" in err


def test_unknown_op_suggests(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: cnov, out: 4, k: 1}\n")
    assert f"{name}:4:13: error: c: unknown op 'cnov'" in err
    assert "hint: did you mean 'conv'?" in err


def test_unknown_attribute(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: 4, kernel: 1, k: 1}\n")
    assert f"{name}:4:27: error: c: unknown attribute 'kernel' for op conv" in err


def test_wrong_value_type(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: four, k: 1}\n")
    assert f"{name}:4:24: error: c: attribute 'out' of conv" in err
    assert "got str 'four'" in err


def test_missing_block_parameter(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + """blocks:
  cbr:
    params: {out: int, k: 3}
    nodes: [{op: conv, out: "${out}", k: "${k}"}, relu]
nodes:
  - b: {use: cbr, k: 1}
""")
    assert f"{name}:8:5: error: b: missing parameter 'out' of block 'cbr'" in err
    assert "takes: out: int, k: 3" in err


def test_undefined_input_reference(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - a: relu\n  - b: {op: relu, in: aa}\n")
    assert f"{name}:5:23: error: b: undefined input 'aa'" in err
    assert "did you mean 'a'?" in err


def test_cycle(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - a: {op: relu, in: c}\n"
                          "  - b: {op: relu, in: a}\n  - c: {op: relu, in: b}\n")
    assert f"{name}:4:5: error: a: cycle: a -> b -> c -> a" in err


def test_duplicate_name(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - a: relu\n  - a: relu\n")
    assert f"{name}:5:5: error: a: duplicate name 'a'" in err
    assert f"first defined at {name}:4:5" in err


def test_add_mismatch_names_block_instantiation(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + """blocks:
  res:
    params: {planes: int, stride: 1}
    nodes:
      - conv1: {op: conv, out: "${planes}", k: 3, stride: "${stride}", pad: 1}
      - {op: add, in: [input, conv1]}
nodes:
  - layer: {repeat: 2, node: {use: res, planes: 3, stride: "${i + 1}"}}
""")
    assert f"{name}:8:9: error: layer.1.add: cannot add (3, 32, 32) and (3, 16, 16)" in err
    assert f"in block 'res' instantiated at {name}:10:30 (layer, index 1)" in err
    assert "hint: the shortcut changes shape" in err


def test_concat_spatial_mismatch(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + """nodes:
  - a: {op: conv, out: 4, k: 3, pad: 1}
  - b: {in: input, op: conv, out: 4, k: 3}
  - {op: concat, in: [a, b]}
""")
    assert f"{name}:6:5: error: concat: cannot concatenate (4, 32, 32) and (4, 30, 30): spatial sizes differ" in err


def test_groups_must_divide_channels(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: 4, k: 1, groups: 2}\n")
    assert f"{name}:4:5: error: c: input channels 3 are not divisible by groups=2" in err


def test_kernel_larger_than_padded_input(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: 4, k: 35, pad: 1}\n")
    assert f"{name}:4:5: error: c: kernel 35x35 is larger than the padded input 34x34" in err


def test_output_size_not_positive(capsys, spec_file):
    # a 2x2 kernel dilated by 3 spans 4 pixels: it fits no 3x3 input
    name, err = errors_of(capsys, spec_file, "archspec: 1\ninput: [4, 3, 3]\nnodes:\n"
                          "  - c: {op: conv, out: 2, k: 2, dilation: 3}\n")
    assert f"{name}:4:5: error: c: output size (2, 0, 0) is not positive (input (4, 3, 3))" in err


def test_expression_undefined_name(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "params: {width: 8}\nnodes:\n"
                          "  - c: {op: conv, out: \"${widht * 2}\", k: 1}\n")
    assert f"{name}:5:24: error: c: in attribute 'out': undefined name 'widht' in expression" in err
    assert "did you mean 'width'?" in err


def test_expression_division_by_zero(capsys, spec_file):
    name, err = errors_of(capsys, spec_file,
                          HEAD + "params: {d: 0}\nnodes:\n  - c: {op: conv, out: \"${8 // d}\", k: 1}\n")
    assert f"{name}:5:24: error: c: in attribute 'out': division by zero: 8 // 0" in err


def test_expression_wrong_type(capsys, spec_file):
    name, err = errors_of(capsys, spec_file,
                          HEAD + "params: {w: wide}\nnodes:\n  - c: {op: conv, out: \"${w * 2.5}\", k: 1}\n")
    assert f"{name}:5:24: error: c: in attribute 'out': cannot apply '*' to str 'wide' and float 2.5" in err


def test_bad_set_key(capsys, spec_file):
    name, err = errors_of(capsys, spec_file,
                          HEAD + "params: {width: 8}\nnodes:\n  - c: {op: conv, out: \"${width}\", k: 1}\n",
                          "--set", "widht=4")
    assert "--set widht=4: error: unknown parameter 'widht'" in err
    assert "did you mean 'width'?" in err


def test_connection_table_size(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, "archspec: 1\ninput: [2, 8, 8]\nnodes:\n"
                          "  - c: {op: conv, out: 3, k: 3, connections: \"X.X\\n.X.\\nXXX\"}\n")
    assert f"{name}:4:5: error: c: connection table is 3x3 but the conv maps 2 input channels to 3" in err


def test_several_errors_at_once_in_file_order(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - a: {op: conv, out: 4, k: 1}\n"
                          "  - b: {op: relu, in: zz}\n  - c: {in: a, op: cnv}\n  - d: {in: a, op: linear, out: 3}\n")
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert [ln.split(": error: ")[0] for ln in lines] == [f"{name}:5:23", f"{name}:6:20", f"{name}:7:5"]
    assert "linear expects a 1-d or 2-d input, got (4, 32, 32)" in lines[2]
    assert "add a flatten node before it" in err


def test_missing_file_and_not_a_mapping(capsys, spec_file, tmp_path):
    code, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 1 and "cannot read spec file" in err and "Traceback" not in err
    name, err = errors_of(capsys, spec_file, "- just\n- a list\n")
    assert f"{name}:1:1: error: a spec file must be a mapping" in err


def test_unknown_top_level_key(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodez:\n  - relu\n")
    assert f"{name}:3:1: error: unknown spec key 'nodez'; did you mean 'nodes'?" in err


def test_expression_cannot_run_code(capsys, spec_file):
    name, err = errors_of(capsys, spec_file,
                          HEAD + "nodes:\n  - c: {op: conv, out: \"${__import__('os').getpid()}\", k: 1}\n")
    assert "only these functions may be called" in err
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - c: {op: conv, out: \"${(1).__class__}\", k: 1}\n")
    assert "no attribute '__class__'" in err


def test_recursive_block_is_cut_short(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "blocks:\n  b:\n    nodes: [relu, {use: b}]\nnodes:\n  - x: b\n")
    assert "blocks and groups nested more than archspec's limit of 48 deep (does 'b' use itself?)" in err
    assert "more instantiations" in err and len(err.splitlines()) < 12


def test_runaway_repeat_fails_fast(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - {repeat: 100000000000, node: relu}\n")
    assert f"{name}:4:14: error: repeat 100,000,000,000 exceeds archspec's limit of 100,000 steps" in err


def test_private_and_module_names_are_refused(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - _modules: relu\n  - get_submodule: relu\n")
    assert f"{name}:4:5: error: '_modules' cannot be a node name" in err
    assert f"{name}:5:5: error: 'get_submodule' cannot be a node name" in err


def test_non_finite_attribute(capsys, spec_file):
    name, err = errors_of(capsys, spec_file,
                          HEAD + "nodes:\n  - d: {op: dropout, p: .nan}\n  - s: {op: scaled_tanh, A: .inf}\n")
    assert f"{name}:4:25: error: .nan: not a finite number" in err
    assert f"{name}:5:29: error: .inf: not a finite number" in err


def test_bad_param_expression(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "params: {a: 2, b: \"${a / 0}\"}\nnodes: [relu]\n")
    assert f"{name}:3:19: error: in param 'b': division by zero: 2 / 0" in err


def test_reference_keys_are_checked(capsys, spec_file):
    # a comma inside an unquoted flow value splits it into a second key: caught, not ignored
    name, err = errors_of(capsys, spec_file, HEAD + "reference: {params: 3, source: torchvision, FlopCounterMode/2}\n"
                          "nodes: [relu]\n")
    assert f"{name}:3:45: error: unknown spec key 'FlopCounterMode/2'" in err


def test_chunk_and_shuffle_shapes(capsys, spec_file):
    name, err = errors_of(capsys, spec_file, HEAD + "nodes:\n  - a: {op: chunk, chunks: 4, index: 3, in: input}\n"
                          "  - b: {op: channel_shuffle, groups: 2, in: input}\n  - {op: concat, in: [a, b]}\n")
    assert f"{name}:4:5: error: a: chunk 3 of 4 is empty: 3 channels make 3 pieces of 1" in err
    assert "hint: use an index below 3" in err
    assert f"{name}:5:5: error: b: 3 channels do not split into 2 groups" in err
