"""names.Namespace, the one naming object of a generated file: every name it gives passes the one
validator and is given once; taken names are numbered; released locals are given again."""
import pytest

from archspec.names import MAX_NAME, Namespace


def test_fresh_numbers_a_taken_name_and_reuses_a_released_one():
    ns = Namespace({"out"})
    assert [ns.fresh("out") for _ in range(3)] == ["out_1", "out_2", "out_3"]
    ns.release("out_2")
    assert ns.fresh("out") == "out_2"          # the lowest free number again, not out_4
    ns.release("out")
    assert ns.fresh("out") == "out"
    assert ns.fresh("out") == "out_4"


def test_class_style_numbers_and_reserved_names():
    ns = Namespace({"Model", "TableConv"})
    assert [ns.fresh("Block", "", 2) for _ in range(3)] == ["Block", "Block2", "Block3"]
    assert ns.fresh("Model", "", 2) == "Model2"
    assert ns.first("TableConv", "Table") == "Table" and "Table" in ns


@pytest.mark.parametrize("bad", ["class", "max", "self", "torch", "1x", "a-b", "é"])
def test_every_name_given_passes_the_validator(bad):
    ns = Namespace()
    assert not ns.usable(bad) and ns.first(bad) is None
    with pytest.raises(ValueError, match="generated name"):
        ns.take(bad)
    with pytest.raises(ValueError, match="generated name"):
        ns.fresh(bad)


def test_generated_names_may_be_longer_than_a_spec_name():
    long = "a" * MAX_NAME + "_out_channels"          # joined from spec names: no spec limit on its length
    assert Namespace().take(long) == long
