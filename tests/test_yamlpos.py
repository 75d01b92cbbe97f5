"""YAML loading with positions (archspec.frontend.yamlpos): every value's line:col, and every refusal
(tags, non-finite numbers, huge integers, aliases, nesting, files that are not files)
as a located error."""
import os
import threading

import pytest

import archspec.frontend.yamlpos
from archspec.errors import Loc, SpecError, SpecErrors
from archspec.frontend.yamlpos import YDict, YList, load_text, read_text

F = "f.yaml"


def load(text):
    return load_text(text, F)


def at(line, col):
    return Loc(F, line, col)


def refused(text, match):
    with pytest.raises(SpecError, match=match) as e:
        load(text)
    return e.value.loc


# -- positions ---------------------------------------------------------------------------------

def test_block_mapping_and_list_positions():
    d = load("a: 1\n"
             "bb:\n"
             "  - x\n"
             "  -   {k: 2, j: [1, 2]}\n"
             "  - - nested\n"
             "c:   'text'\n")
    assert isinstance(d, YDict) and d == {"a": 1, "bb": ["x", {"k": 2, "j": [1, 2]}, ["nested"]], "c": "text"}
    assert d.loc == at(1, 1)
    assert (d.at("a"), d.key_at("a")) == (at(1, 4), at(1, 1))
    assert (d.at("bb"), d.key_at("bb")) == (at(3, 3), at(2, 1))
    assert (d.at("c"), d.key_at("c")) == (at(6, 6), at(6, 1))
    items = d["bb"]
    assert isinstance(items, YList) and items.loc == at(3, 3)
    assert [items.at(i) for i in range(3)] == [at(3, 5), at(4, 7), at(5, 5)]
    assert items[1].loc == at(4, 7) and items[1].at("k") == at(4, 11) and items[1].key_at("j") == at(4, 14)
    assert items[1]["j"].at(1) == at(4, 21)
    assert items[2].at(0) == at(5, 7)
    assert d.at("missing") == d.loc and d.key_at("missing") == d.loc and items.at(9) == items.loc


def test_unquoted_expressions_in_flow_mappings_keep_columns():
    """`${...}` with , [ ] { } # inside, unquoted in a flow mapping: the text survives and
    every later column stays exact."""
    line = "n: {out: \"${max(a[0], b)}\", k: \"${'{' + x + '}'}\", s: \"${x # y}\", p: [\"${[1, 2][0]}\", 3], z: 1}\n"
    d = load(line)
    n = d["n"]
    assert n == {"out": "${max(a[0], b)}", "k": "${'{' + x + '}'}", "s": "${x # y}", "p": ["${[1, 2][0]}", 3], "z": 1}
    for key in n:
        col = line.index(f"{key}: ") + 1
        assert (n.key_at(key), n.at(key)) == (at(1, col), at(1, col + len(key) + 2)), key
    assert n["p"].at(1) == at(1, line.index("3]") + 1)
    assert load("q: ['${a}', \"${b}\", \"${c}\"]\n")["q"] == ["${a}", "${b}", "${c}"]


def test_scalars():
    d = load("i: 42\nn: -7\nh: 0x10\nu: 1_000\nf: 1.5\ne: 1.0e+3\nt: true\nff: false\nz: ~\nnull2: null\n"
             "s: hello\nq: '42'\nbare: 1e3\n")
    assert d == {"i": 42, "n": -7, "h": 16, "u": 1000, "f": 1.5, "e": 1000.0, "t": True, "ff": False,
                 "z": None, "null2": None, "s": "hello", "q": "42", "bare": "1e3"}
    assert type(d["e"]) is float and type(d["i"]) is int
    assert load("") is None and load("# only a comment\n") is None
    assert load("--- \na: 1\n") == {"a": 1}          # one explicit document is fine


def test_bare_dates_stay_text():
    d = load("date: 2024-01-02\nstamp: 2001-12-14t21:59:43.10-05:00\n")
    assert d == {"date": "2024-01-02", "stamp": "2001-12-14t21:59:43.10-05:00"}
    loc = refused("a: !!timestamp 2024-01-02\n", "unsupported YAML tag tag:yaml.org,2002:timestamp")
    assert loc == at(1, 4)


# -- keys -------------------------------------------------------------------------------------------

def test_duplicate_keys():
    with pytest.raises(SpecError, match="duplicate key 'a'") as e:
        load("a: 1\nb: 2\na: 3\n")
    assert e.value.loc == at(3, 1) and e.value.hint == "it is already set at f.yaml:1:1"
    assert refused("x: {k: 1, k: 2}\n", "duplicate key 'k'") == at(1, 11)
    assert refused("1: a\n1: b\n", "duplicate key '1'") == at(2, 1)


@pytest.mark.parametrize("text,where", [
    ("? [1, 2]\n: 3\n", at(1, 3)),
    ("{[1]: 2}\n", at(1, 2)),
    ("? {a: 1}\n: 3\n", at(1, 3)),
])
def test_non_scalar_keys(text, where):
    assert refused(text, "a mapping key must be a plain scalar") == where


# -- aliases ------------------------------------------------------------------------------------------

def test_aliases_share_the_anchored_value():
    d = load("a: &x [1, {k: v}]\nb: *x\nc: &s 5\nd: *s\n")
    assert d["a"] == d["b"] == [1, {"k": "v"}] and d["b"] is d["a"]
    assert d["d"] == 5
    assert d.at("b") == at(2, 4)             # the alias is blamed where it is written


def test_alias_errors():
    assert refused("a: [1, *nope]\n", "undefined YAML alias '\\*nope'") == at(1, 8)
    with pytest.raises(SpecError, match="YAML alias '\\*x' refers to a value that contains it") as e:
        load("a: &x [1, *x]\n")
    assert e.value.loc == at(1, 11) and "finished value" in e.value.hint
    assert refused("a: &m {k: *m}\n", "refers to a value that contains it") == at(1, 11)


def test_aliases_count_toward_the_expansion_limit(monkeypatch):
    monkeypatch.setattr(archspec.frontend.yamlpos, "MAX_YAML_VALUES", 100)
    ten = "[" + ", ".join(["1"] * 9) + "]"                    # 10 values
    ok = f"a: &a {ten}\nb: [*a, *a, *a, *a, *a, *a, *a]\n"     # keys count too: 1 + 10 + 1 + 1 + 7 * 10 = 83
    assert len(load(ok)["b"]) == 7
    bomb = f"a: &a {ten}\nb: &b [*a, *a, *a, *a, *a]\nc: [*b, *b]\n"       # 65 values, then *b adds 51
    with pytest.raises(SpecError, match="the YAML expands to more than 100 values") as e:
        load(bomb)
    assert e.value.loc == at(3, 5) and "aliases" in e.value.hint      # the alias that crosses the limit


def test_laughs_at_the_real_limit_fail_fast():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(SpecError, match="expands to more than 4,000,000 values"):
        load("\n".join(lines) + "\n")


# -- nesting ------------------------------------------------------------------------------------------

def test_nesting_limit():
    n = archspec.frontend.yamlpos.MAX_YAML_DEPTH
    assert load("[" * n + "]" * n) is not None
    assert refused("[" * (n + 1) + "]" * (n + 1), f"YAML nested more than {n} deep") == at(1, n + 1)
    deep = "".join("  " * i + f"k{i}:\n" for i in range(n)) + "  " * n + "k: 1\n"
    assert refused(deep, f"nested more than {n} deep") == at(n + 1, 2 * n + 1)


@pytest.mark.parametrize("libyaml", [False, True])
def test_nesting_past_libyamls_own_limit_is_archspecs_error(monkeypatch, libyaml):
    """libyaml of PyYAML 6.0.4 refuses nesting past 1,000 while scanning ahead, before the builder
    meets archspec's limit of 100; the text is parsed again by the Python parser so the error is
    archspec's, where the 101st level opens. `libyaml`: a C parser that refuses as 6.0.4's does,
    so the retry is tested whichever PyYAML this machine has."""
    import yaml
    if libyaml:
        class Refusing(archspec.frontend.yamlpos._Loader):
            def check_event(self, *choices):
                raise yaml.MarkedYAMLError(problem="exceeded maximum nesting depth")
        monkeypatch.setattr(archspec.frontend.yamlpos, "_Loader", Refusing)
        monkeypatch.setattr(archspec.frontend.yamlpos, "_Base", object)       # as if C were there
    n = archspec.frontend.yamlpos.MAX_YAML_DEPTH
    assert refused("[" * 10_000 + "]" * 10_000, f"YAML nested more than {n} deep") == at(1, n + 1)


# -- tags ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,tag", [
    ("a: !!python/object:os.system 1\n", "tag:yaml.org,2002:python/object:os.system"),
    ("a: !!python/object/apply:os.system ['ls']\n", "tag:yaml.org,2002:python/object/apply:os.system"),
    ("a: !foo 1\n", "!foo"),
    ("a: !!binary aGk=\n", "tag:yaml.org,2002:binary"),
    ("a: !!set {1, 2}\n", "tag:yaml.org,2002:set"),
    ("a: !!omap [{a: 1}]\n", "tag:yaml.org,2002:omap"),
    ("a: !local {k: 1}\n", "!local"),
])
def test_tags_refused(text, tag):
    with pytest.raises(SpecError, match="unsupported YAML tag") as e:
        load(text)
    assert e.value.message == f"unsupported YAML tag {tag}" and e.value.loc == at(1, 4)
    assert "plain lists, mappings" in e.value.hint


def test_standard_tags_allowed():
    assert load("a: !!int 1\nb: !!str 2\nc: !!float 3\nd: !!bool true\ne: !!null ''\nf: !!seq [1]\n"
                "g: !!map {k: 1}\n") == {"a": 1, "b": "2", "c": 3.0, "d": True, "e": None, "f": [1], "g": {"k": 1}}
    assert refused("a: !!int abc\n", "invalid int value 'abc'") == at(1, 4)


# -- numbers ------------------------------------------------------------------------------------------

def test_non_finite_and_huge_numbers_all_located():
    with pytest.raises(SpecErrors) as e:
        load("a: .nan\n"
             "b: [1, .inf, -.inf]\n"
             "c: 1000000000000000000000000000000\n"
             "d: 9223372036854775807\n"
             "e: -9223372036854775808\n"
             "f: .NaN\n")
    got = [(d.loc, d.message) for d in e.value.diagnostics]
    too_large = "integer too large (archspec's limit is 2**63)"
    assert got == [(at(1, 4), ".nan: not a finite number"), (at(2, 8), ".inf: not a finite number"),
                   (at(2, 14), "-.inf: not a finite number"),
                   (at(3, 4), f"1000000000000000000000000000000: {too_large}"),
                   (at(5, 4), f"-9223372036854775808: {too_large}"), (at(6, 4), ".NaN: not a finite number")]
    assert load("d: 9223372036854775807\n") == {"d": 2**63 - 1}
    assert load("d: 1e400\n") == {"d": "1e400"}             # not a YAML 1.1 float: text
    assert load("no: 1\n") == {False: 1}                     # YAML 1.1's booleans, as PyYAML reads them


def test_very_long_integer_refused_before_conversion():
    assert refused("a: " + "9" * 5000 + "\n", r"integer too large: 99999999999999999999\.\.\. \(5000 characters\)") \
        == at(1, 4)


# -- characters and documents -----------------------------------------------------------------------

@pytest.mark.parametrize("text,where", [
    ("a: 1\x07\n", at(1, 5)),
    ("a: 1\nb: 'x\x01'\n", at(2, 6)),
    ("a: 1\nb: 2\n\x1b[31m: 3\n", at(3, 1)),
])
def test_control_characters_located(text, where):
    assert refused(text, "YAML error: character .* is not allowed in YAML text") == where


def test_multiple_documents_refused():
    with pytest.raises(SpecError, match="a spec file holds one YAML document") as e:
        load("a: 1\n---\nb: 2\n")
    assert e.value.loc == at(2, 1) and "second '---'" in e.value.hint


def test_syntax_errors_located():
    loc = refused("a: [1, 2\nb: 3\n", "YAML syntax error")
    assert loc.file == F and loc.line == 2
    assert refused("a: 1\n  b: 2\n", "YAML syntax error: mapping values are not allowed") == at(2, 4)


# -- read_text --------------------------------------------------------------------------------------

def test_read_text_regular_file(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("a: 1\n")
    assert read_text(str(p), "ok.yaml") == "a: 1\n"
    p.write_bytes(b"a: \xff\n")
    with pytest.raises(SpecError, match="spec file is not UTF-8 text") as e:
        read_text(str(p), "shown.yaml")
    assert e.value.loc == Loc("shown.yaml")


def test_read_text_refuses_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec file: Is a directory") as e:
        read_text(str(tmp_path), "dir")
    assert e.value.loc == Loc("dir")
    with pytest.raises(SpecError, match="cannot read block library: No such file or directory"):
        read_text(str(tmp_path / "nope.yaml"), "nope.yaml", "block library")


def test_read_text_refuses_a_device():
    with pytest.raises(SpecError, match="spec file is not a regular file") as e:
        read_text("/dev/null", "null.yaml")
    assert e.value.loc == Loc("null.yaml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_read_text_refuses_a_fifo_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = []

    def read():
        try:
            read_text(str(fifo), "pipe.yaml")
        except SpecError as e:
            result.append(e.message)
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(0.5)
    waited = t.is_alive()
    if waited:                       # blocked in open(): a writer releases it, so no thread is left behind
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(5)
    assert not waited, "read_text waited for a writer"
    assert result == ["spec file is not a regular file"]


def test_read_text_refuses_an_oversized_file(tmp_path, monkeypatch):
    monkeypatch.setattr(archspec.frontend.yamlpos, "MAX_FILE_BYTES", 2**20)
    p = tmp_path / "big.yaml"
    p.write_text("#" * 2**20)
    assert len(read_text(str(p), "big.yaml")) == 2**20           # exactly the limit: read
    p.write_text("#" * (2**20 + 1))
    with pytest.raises(SpecError, match="spec file is larger than archspec's limit of 1 MiB") as e:
        read_text(str(p), "big.yaml")
    assert e.value.loc == Loc("big.yaml")
