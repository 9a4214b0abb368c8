"""NAS-Bench-201 space specifics (the shared contract is in test_contract.py)."""

from __future__ import annotations

import csv

import pytest

from spaces import ConfigError, create_space, total_flops, total_params
from spaces.nb201 import OPS, NB201Config, dead_ops_kept, live_edges, output_edges, swapped_twin

from .support import check_model

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def space():
    return create_space("nb201")


def cell(*edges: str) -> NB201Config:
    return NB201Config(tuple(edges))


def uniform(op: str) -> NB201Config:
    return NB201Config((op,) * 6)


def _rows(path):
    with open(path, newline="") as f:
        return [(int(row["arch_index"]), row["arch_str"]) for row in csv.DictReader(f)]


def test_every_published_arch_str_round_trips_with_its_index(space, shared_data):
    rows = _rows(shared_data / "nb201_latency.csv")
    assert len(rows) == 15625
    for index, text in rows:
        config = space.parse(text)
        assert config.arch_str == text
        assert config.index == index
        assert NB201Config.from_index(index) == config


def test_index_matches_the_accuracy_table(shared_data):
    for index, text in _rows(shared_data / "nb201_accuracy.csv")[:200]:
        assert NB201Config.from_index(index).arch_str == text


def test_index_known_rows():
    # from NAS-Bench-201's own reproducibility checks (also rows 0 and 9 of the shared CSVs)
    assert NB201Config.from_index(0).arch_str == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert NB201Config.from_index(9).arch_str == (
        "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert sorted(NB201Config.from_index(i).index for i in range(0, 15625, 97)) == list(range(0, 15625, 97))
    with pytest.raises(ConfigError, match=r"index must be an int in \[0, 15624\]"):
        NB201Config.from_index(15625)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected 3 nodes"),
        ("|none~0|+|none~0|none~1|", "expected 3 nodes"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 must be enclosed"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must have 2 input edge"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", r"edge 1->2 must read 'op~1'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", r"edge 0->1 must read 'op~0'"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", r"unknown op 'conv' on edge 0->1"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ", "node 3 must be enclosed"),
    ],
)
def test_malformed_strings_are_rejected_clearly(text, why):
    with pytest.raises(ConfigError, match=why) as info:
        NB201Config.from_str(text)
    assert "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in str(info.value)


def test_constructor_names_the_field():
    with pytest.raises(ConfigError, match=r"'edges\[4\] \(edge_3_1\)'.*got 'conv'"):
        cell("none", "none", "none", "none", "conv", "none")
    with pytest.raises(ConfigError, match="'edges' must hold 6"):
        NB201Config(("none",) * 5)
    assert NB201Config(["none"] * 6) == uniform("none")


def test_sample_names_and_size(space):
    import optuna

    names = ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"]
    config = space.sample(optuna.trial.FixedTrial(dict(zip(names, OPS + ("none",)))))
    assert config.edges == OPS + ("none",)
    assert space.size() == 15625


def test_published_param_and_flop_range(space):
    # NAS-Bench-201 (CIFAR-10): 0.07-1.53 M params, 7.78-220.11 M FLOPs (multiply-adds)
    small, large = space.extremes()
    assert total_params(space.layers(small)) == 73_306
    assert total_params(space.layers(large)) == 1_531_546
    assert total_flops(space.layers(small)) // 2 == 7_783_040
    assert total_flops(space.layers(large)) // 2 == 220_119_680


def test_live_edges_prune_dead_and_disconnected_edges():
    # node 1 has no input: its outgoing conv is dead; node 2 feeds nothing: its input conv is dead
    edges = ("none", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none")
    assert live_edges(edges) == ((0, 3, "skip_connect"),)
    assert live_edges(("none",) * 6) == ()
    # 0 -> 1 -> 3 is a path even though node 2 is unused
    edges = ("avg_pool_3x3", "none", "none", "none", "nor_conv_1x1", "none")
    assert live_edges(edges) == ((0, 1, "avg_pool_3x3"), (1, 3, "nor_conv_1x1"))


def test_output_edges_drop_dead_ends_but_keep_ops_fed_by_zeros():
    # node 1 is fed by nothing but reaches the output: its conv runs on zeros yet is kept;
    # node 2 reaches the output only through none: its input conv is a dead end and dropped
    edges = ("none", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none")
    assert output_edges(edges) == ((0, 3, "skip_connect"), (1, 3, "nor_conv_1x1"))
    assert live_edges(edges) == ((0, 3, "skip_connect"),)


@pytest.mark.parametrize("edges, kept", [
    # node 2 reaches the output only through none; a conv alone feeding it takes the zero multiply into
    # its weights
    (("skip_connect", "nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1", "none"), ("nor_conv_3x3",)),
    # ... a skip alone leaves the multiply to run on its source; an average pool alone is folded away
    (("skip_connect", "skip_connect", "none", "skip_connect", "nor_conv_1x1", "none"), ("skip_connect",)),
    (("skip_connect", "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "none"), ()),
    # two ops into the dead node: their sum is folded away, both dropped
    (("skip_connect", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_1x1", "none"), ()),
    # ... unless one is a skip from node 1, which is all zeros (fed only by none)
    (("none", "nor_conv_3x3", "skip_connect", "skip_connect", "nor_conv_1x1", "none"), ("nor_conv_3x3",)),
    # node 1 dead, its conv alone: kept
    (("nor_conv_1x1", "avg_pool_3x3", "none", "skip_connect", "none", "nor_conv_1x1"), ("nor_conv_1x1",)),
    # both dead, a chain 0 -> 1 -> 2 ending in a conv: both ops run
    (("avg_pool_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "none"),
     ("nor_conv_3x3", "avg_pool_3x3")),
    # both dead, a chain ending in a skip: node 1's conv takes the multiply
    (("nor_conv_3x3", "none", "skip_connect", "skip_connect", "none", "none"), ("nor_conv_3x3",)),
    # both dead side by side: node 2's conv runs unless node 1 holds a conv too, then neither does
    (("skip_connect", "nor_conv_3x3", "none", "skip_connect", "none", "none"), ("nor_conv_3x3",)),
    (("nor_conv_1x1", "nor_conv_3x3", "none", "skip_connect", "none", "none"), ()),
    # every node live: nothing is dead
    (("nor_conv_3x3",) * 6, ()),
])
def test_dead_ops_kept_as_tflite_runs_them(edges, kept):
    assert dead_ops_kept(edges) == kept


def test_swapped_twin_is_the_same_computation(space):
    edges = ("nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "none")
    twin = swapped_twin(edges)
    assert twin == ("avg_pool_3x3", "nor_conv_3x3", "none", "skip_connect", "none", "nor_conv_1x1")
    assert swapped_twin(twin) == edges
    assert (sorted(space.layers(NB201Config(twin)), key=repr)
            == sorted(space.layers(NB201Config(edges)), key=repr))
    assert swapped_twin(("skip_connect", "skip_connect", "none", "none", "nor_conv_1x1",
                         "nor_conv_1x1")) is None
    assert swapped_twin(("skip_connect", "skip_connect", "nor_conv_1x1", "none", "none", "none")) is None


def test_encoding_counts_ops_as_each_runtime_runs_them(space):
    names = space.encoding_names()
    assert len(names) == len(space.encode(space.extremes()[0]))

    def counts(edges):
        return {n: v for n, v in zip(names, space.encode(NB201Config(edges))) if not n.startswith("edge_")}

    got = counts(("none", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none"))
    assert got["ops_all=nor_conv_3x3"] == 2 and got["ops_all=nor_conv_1x1"] == 1
    assert got["ops_to_output=nor_conv_3x3"] == 0 and got["ops_to_output=nor_conv_1x1"] == 1
    assert got["ops_to_output=skip_connect"] == 1 and got["cell_disconnected"] == 0
    assert got["ops_dead_kept=nor_conv_3x3"] == 0  # node 2's two ops are dropped with it
    kept = counts(("skip_connect", "nor_conv_3x3", "none", "skip_connect", "nor_conv_1x1", "none"))
    assert kept["ops_dead_kept=nor_conv_3x3"] == 1 and kept["ops_to_output=nor_conv_3x3"] == 0
    disconnected = counts(("nor_conv_3x3", "none", "skip_connect", "none", "none", "none"))
    assert disconnected["cell_disconnected"] == 1 and disconnected["ops_all=nor_conv_3x3"] == 1
    assert disconnected["ops_to_output=nor_conv_3x3"] == 0


def test_cell_specs_follow_the_edges(space):
    specs = space.layers(cell("nor_conv_3x3", "avg_pool_3x3", "skip_connect",
                              "nor_conv_1x1", "none", "skip_connect"))
    first_cell = specs[1:6]
    assert [(s.kind, s.kernel) for s in first_cell] == [
        ("conv", 3), ("pool", 3), ("add", 1), ("conv", 1), ("add", 1)]
    assert first_cell[0].activation == "relu"  # ReLU-Conv-BN: the ReLU comes first
    assert first_cell[2].bytes_moved == 3 * 16 * 32 * 32 * 4  # two inputs, one output


@pytest.mark.parametrize(
    "edges",
    [
        ("none",) * 6,
        ("avg_pool_3x3",) * 6,
        ("skip_connect",) * 6,
        ("none", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none"),
        ("nor_conv_1x1", "none", "none", "none", "none", "nor_conv_3x3"),
    ],
)
def test_degenerate_cells_match_model(space, edges):
    check_model(space, NB201Config(edges))


def test_disconnected_cell_outputs_zeros_without_ops():
    import torch

    from spaces.models.nb201_net import Cell

    zero_cell = Cell(live_edges(("none", "nor_conv_3x3", "nor_conv_3x3", "none", "nor_conv_1x1", "none")), 16)
    assert len(zero_cell.ops) == 0 and sum(p.numel() for p in zero_cell.parameters()) == 0
    assert torch.equal(zero_cell(torch.randn(2, 16, 8, 8)), torch.zeros(2, 16, 8, 8))


def test_none_edges_build_no_module(space):
    from spaces.models.nb201_net import Cell

    model = space.build(NB201Config.from_str(BEST))
    cells = [m for m in model.modules() if isinstance(m, Cell)]
    assert len(cells) == 15 and all(len(c.ops) == 6 for c in cells)
    model = space.build(cell("nor_conv_3x3", "none", "none", "none", "none", "nor_conv_3x3"))
    assert all(len(m.ops) == 0 for m in model.modules() if isinstance(m, Cell))


def test_input_size_must_survive_two_reductions(space):
    with pytest.raises(ConfigError, match="multiples of 4"):
        space.layers(uniform("none"), (3, 30, 30))
    with pytest.raises(ConfigError, match="multiples of 4"):
        space.build(uniform("none"), img_size=30)
    specs = space.layers(uniform("nor_conv_1x1"), (3, 16, 16))
    assert specs[-2].h_in == 4

