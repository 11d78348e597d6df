"""Choice: parsing every NNI encoding and writing readable values."""

from __future__ import annotations

import pytest

from nasnb.architecture import Choice, InvalidChoice


@pytest.fixture
def op():
    return Choice.layer("op", ("conv3x3", "conv5x5", "skip"))


def test_layer_encodings(op):
    for value in ("skip", 2, ["skip"], [2], [False, False, True], [0.0, 0.0, 1.0], {"_value": "skip", "_idx": 2},
                  {"_value": "skip"}):
        assert op.parse(value) == (2,), value
    assert op.encode((1,)) == "conv5x5"
    assert op.size == 3 and op.default == (0,)


@pytest.mark.parametrize("value", ["conv7x7", 3, -1, True, None, 1.0, [0, 0], ["skip", "conv7x7"], [True, False],
                                   [0.5, 0.5], [-0.5, 0.0, 1.0], [float("nan"), 0.0, 1.0]])
def test_layer_rejects(op, value):
    with pytest.raises(InvalidChoice):
        op.parse(value)


def test_layer_accepts_several_candidates(op):  # NNI 1.x multi-choice; tests/test_multi_choice.py has the rest
    assert op.parse([0, 1]) == (0, 1) and op.parse([True, True, False]) == (0, 1)
    assert op.parse([0.5, 0.5, 0.0]).weights == (0.5, 0.5)


def test_input_with_unnamed_inputs_exports_indices():
    skip = Choice.input("skip", ("", ""), n_chosen=None)
    assert skip.encode((0, 1)) == [0, 1]
    assert skip.parse([1, 0]) == (0, 1)
    with pytest.raises(InvalidChoice, match="any number of distinct inputs"):
        skip.parse("")  # ambiguous: two unnamed inputs
    assert skip.size == 4
    assert list(skip.all_indices()) == [(0, 1), (0,), (1,), ()]


def test_input_with_names_and_n_chosen():
    pick = Choice.input("pick", ("a", "b", "c"), n_chosen=2, source_aliases={"LayerChoice1": "a"})
    assert pick.parse(["c", "LayerChoice1"]) == (0, 2)
    assert pick.encode((0, 2)) == ["a", "c"]
    assert pick.size == 3 and pick.default == (0, 1)
    with pytest.raises(InvalidChoice, match="exactly 2"):
        pick.parse(["a"])
    with pytest.raises(InvalidChoice, match="distinct"):
        pick.parse(["a", "a"])
    assert "names from ['a', 'b', 'c']" in pick.describe()


def test_zero_one_int_list_means_indices_as_in_nni():
    pick = Choice.input("pick", ("", "", ""), n_chosen=None)
    assert pick.parse([0, 1]) == (0, 1)  # not a mask
    assert pick.parse([True, False, True]) == (0, 2)


@pytest.mark.parametrize(
    "choice",
    [
        Choice.layer("op", ("a", "b", "c")),
        Choice.input("pick", ("", "", "", ""), n_chosen=2),
        Choice.input("any", ("", "", ""), n_chosen=None),
    ],
    ids=["layer", "k-subset", "any-subset"],
)
def test_draw_is_uniform_over_every_valid_choice(choice):
    import collections
    import random

    rng = random.Random(0)
    counts = collections.Counter(choice.draw(rng) for _ in range(400 * choice.size))
    assert set(counts) == set(choice.all_indices())
    assert max(counts.values()) / min(counts.values()) < 1.3


# ------------------------------------------------------------------ load_arch
def test_load_arch_reads_a_mapping_json_text_or_a_file(tmp_path):
    from nasnb.architecture import load_arch

    path = tmp_path / "a.json"
    path.write_text('{"op": "skip"}')
    assert load_arch({"op": 1}) == {"op": 1}
    assert load_arch('  {"op": [0, 1]}') == {"op": [0, 1]}
    assert load_arch(str(path)) == load_arch(path) == {"op": "skip"}


@pytest.mark.parametrize("source, match", [
    ("{oops", r"^load: the text is not valid JSON \(Expecting property name .* at line 1, column 2\)"),
    ("   ", r"^load: got an empty text / file name"),
    ("missing.json", r"^load: no file 'missing.json'; expected JSON text or the path of a JSON file"),
])
def test_load_arch_errors_say_what_was_expected(source, match):
    from nasnb.architecture import load_arch
    from nasnb.exceptions import LoadError

    with pytest.raises(LoadError, match=match) as info:
        load_arch(source)
    assert info.value.value == source


def test_the_fast_path_of_fits_accepts_only_what_the_round_trip_accepts():
    import itertools

    from nasnb.architecture import Choice

    specs = [Choice.layer("a", ("x", "y", "z")), Choice.layer("d", ("0", "1")),
             Choice.input("b", ("p", "q", "r", "s"), n_chosen=2), Choice.input("c", ("p", "q", "r"))]
    for spec in specs:
        n = len(spec.names)
        for r in range(n + 2):
            for indices in itertools.product(range(-1, n + 1), repeat=r):
                try:
                    slow = spec.parse(spec.encode(indices)) == indices
                except Exception:  # noqa: BLE001 - any refusal means "does not fit"
                    slow = False
                assert spec.fits(indices) == slow, (spec.key, indices)
