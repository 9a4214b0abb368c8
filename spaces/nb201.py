"""NAS-Bench-201 search space: one cell of 4 nodes and 6 edges, 5 ops per edge.

The macro-architecture is the one in ``../shared/data/DATA.md``: a 3x3 conv stem
(16 channels, BN), three stages of 5 identical cells (16, 32, 64 channels) with
NAS-Bench-201's stride-2 residual basic block between stages, and a
BN-ReLU-pool-linear head. A config is the 6 edge ops in the order of the
standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

Dead edges are pruned in both ``build`` and ``layers`` (see :func:`live_edges`):
an edge runs only when its source is reachable from the cell input and its
target reaches the cell output, both through non-``none`` edges. Pruning never
changes the cell's output except that a conv edge fed by an all-zero node would
only add its BN's constant shift; it is dropped. A cell without a live edge
outputs zeros.

``layers()`` per cell, node by node: ``conv`` (activation ``"relu"``, applied
*before* the conv: ReLU-Conv-BN) for ``nor_conv_*``, ``pool`` for
``avg_pool_3x3``, nothing for ``skip_connect`` / ``none``, and one ``add`` (with
``inputs`` = number of live incoming edges) for a node fed by more than one.

The published latencies were measured on runtimes that prune differently from
``build``, so the encoding (the predictor's extra features) also counts each
op kind as those runtimes run it: eager runtimes (the HELP CPUs and GPUs) run
every non-``none`` edge; TFLite (HW-NAS-Bench's Raspberry Pi 4 and Pixel 3)
folds ``x * 0`` and drops the ops whose result reaches the cell output only
through ``none`` (see :func:`output_edges`), except a lone conv or skip the
multiply lands on (see :func:`dead_ops_kept`), and folds nearly the whole
network when the cell is disconnected. Measured on the shared data (900 architectures
to fit, the rest held out): a 5-term linear model on :func:`output_edges`' counts places 74.9%
of the Pixel 3's held-out latencies within ±10%, against 52.4% on the counts of
``build``'s pruned cell and 50.2% on all non-``none`` edges; on the eager
runtimes all edges win (99.9% on titan_rtx_32 against 77.2% pruned).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from . import costs
from .base import InputShape, PositionalOpsSpace
from .config import ArchConfig, check_op_tuple
from .errors import ConfigError
from .layerspec import LayerSpec

__all__ = ["OPS", "EDGES", "NB201Config", "NB201Space", "live_edges", "output_edges", "swapped_twin"]

#: NAS-Bench-201's op order (it fixes the topology index, see ``NB201Config.index``)
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target, source) of the 6 edges, in arch_str order
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
PARAM_NAMES = tuple(f"edge_{dst}_{src}" for dst, src in EDGES)
NUM_NODES = 4
STAGE_CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
_INDEX_SEED = 88  # NAS-Bench-201 shuffled its enumeration of cells with this seed
_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
_COUNTED_OPS = OPS[1:]  # every op but none
_COUNT_NAMES = (*(f"ops_all={op}" for op in _COUNTED_OPS), *(f"ops_to_output={op}" for op in _COUNTED_OPS),
                "cell_disconnected", *(f"ops_dead_kept={op}" for op in _COUNTED_OPS))


@dataclass(frozen=True)
class NB201Config(ArchConfig):
    """The ops of the 6 edges, ordered as :data:`EDGES` (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)."""

    edges: tuple[str, ...]

    def __post_init__(self) -> None:
        check_op_tuple(self, "edges", len(EDGES), OPS, PARAM_NAMES)

    @property
    def arch_str(self) -> str:
        nodes, k = [], 0
        for dst in range(1, NUM_NODES):
            nodes.append("|" + "|".join(f"{self.edges[k + src]}~{src}" for src in range(dst)) + "|")
            k += dst
        return "+".join(nodes)

    @classmethod
    def from_str(cls, text: str) -> NB201Config:
        def fail(why: str) -> ConfigError:
            return ConfigError(f"{cls.__name__}: malformed architecture string {text!r}: {why}; "
                               f"expected {_FORMAT} with ops {', '.join(OPS)}")

        if not isinstance(text, str):
            raise fail(f"expected a string, got {type(text).__name__}")
        groups = text.split("+")
        if len(groups) != NUM_NODES - 1:
            raise fail(f"expected {NUM_NODES - 1} nodes separated by '+', got {len(groups)}")
        ops = []
        for dst, group in enumerate(groups, start=1):
            if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
                raise fail(f"node {dst} must be enclosed in '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != dst:
                raise fail(f"node {dst} must have {dst} input edge(s), got {len(tokens)}")
            for src, token in enumerate(tokens):
                op, sep, source = token.partition("~")
                if not sep or source != str(src):
                    raise fail(f"edge {src}->{dst} must read 'op~{src}', got {token!r}")
                if op not in OPS:
                    raise fail(f"unknown op {op!r} on edge {src}->{dst}")
                ops.append(op)
        return cls(tuple(ops))

    # -- NAS-Bench-201 / NATS-Bench topology index ---------------------------
    @property
    def index(self) -> int:
        """The ``arch_index`` of this cell in NAS-Bench-201 (and the shared CSVs)."""
        return _index_of()[self.edges]

    @classmethod
    def from_index(cls, index: int) -> NB201Config:
        cells = _cells_by_index()
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cells):
            raise ConfigError(f"{cls.__name__}: index must be an int in [0, {len(cells) - 1}], got {index!r}")
        return cls(cells[index])


@cache
def _cells_by_index() -> tuple[tuple[str, ...], ...]:
    """NAS-Bench-201's order: all cells enumerated (first edge slowest), then shuffled with seed 88."""
    cells = list(itertools.product(OPS, repeat=len(EDGES)))
    random.Random(_INDEX_SEED).shuffle(cells)  # a private generator: no global random state
    return tuple(cells)


@cache
def _index_of() -> dict[tuple[str, ...], int]:
    return {cell: i for i, cell in enumerate(_cells_by_index())}


def _nodes_reaching_output(op_of: dict[tuple[int, int], str]) -> set[int]:
    feeding = {NUM_NODES - 1}
    for src in range(NUM_NODES - 2, -1, -1):
        if any(dst in feeding and op_of[dst, src] != "none" for dst in range(src + 1, NUM_NODES)):
            feeding.add(src)
    return feeding


@cache
def output_edges(edges: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    """``(source, target, op)`` of the non-``none`` edges whose target reaches the cell output.

    What a graph compiler that folds ``x * 0`` keeps: it drops dead ends but,
    unlike :func:`live_edges`, still runs ops fed only by an all-zero node.
    """
    op_of = {edge: op for edge, op in zip(EDGES, edges)}
    feeding = _nodes_reaching_output(op_of)
    return tuple((src, dst, op) for (dst, src), op in zip(EDGES, edges) if op != "none" and dst in feeding)


@cache
def dead_ops_kept(edges: tuple[str, ...]) -> tuple[str, ...]:
    """The ops of dead nodes (reaching the cell output only through ``none``, that is times zero) that
    TFLite still runs, though :func:`output_edges` drops them.

    Read off the published Pixel 3 latencies (rows timed in steady stretches): where the zero multiply lands
    on a single op, a conv takes it into its weights and still runs, and a skip leaves the multiply itself to
    run; an average pool, or a sum of two ops, is folded away with what feeds only it. When both inner nodes
    are dead, node 1's ops run only as the source of a chain 0 -> 1 -> 2, and node 2's lone op from the input
    only if node 1 holds no conv. 1,070 of the 15,625 cells hold such ops. Counted, the robust lookup fitted
    on 900 architectures places 75.2% of the Pixel 3's held-out latencies within ±10% (72.8% without) and
    79.3% of the Raspberry Pi 4's (75.9%).
    """
    op_of = dict(zip(EDGES, edges))
    feeding = _nodes_reaching_output(op_of)
    dead = [node for node in (1, 2) if node not in feeding]
    e10, e20, e21 = op_of[1, 0], op_of[2, 0], op_of[2, 1]

    def alone(op: str) -> tuple[str, ...]:
        return (op,) if op.startswith("nor_conv_") or op == "skip_connect" else ()

    if dead == [1]:
        return alone(e10)
    if dead == [2]:
        into_2 = [op for op in (e20, e21) if op != "none"]
        if len(into_2) == 2 and e10 == "none" and e21 == "skip_connect":
            into_2 = [e20]  # node 1 is all zeros: its skip adds nothing to the sum
        return alone(into_2[0]) if len(into_2) == 1 else ()
    if dead == [1, 2] and e20 == "none" and e21 != "none":  # a chain 0 -> 1 -> 2
        if e21.startswith("nor_conv_"):
            return (e21,) + ((e10,) if e10 not in ("none", "skip_connect") else ())
        return alone(e10) if e21 == "skip_connect" else ()
    if dead == [1, 2] and e21 == "none" and not e10.startswith("nor_conv_"):
        return alone(e20)
    return ()


def swapped_twin(edges: tuple[str, ...]) -> tuple[str, ...] | None:
    """The cell with nodes 1 and 2 swapped, where that is the same computation (no edge 2 <- 1), else None.

    A twin runs the same ops on the same tensors, so the published latencies of twins differ by
    measurement noise only: they give a noise floor for devices that were never timed twice.
    """
    e10, e20, e21, e30, e31, e32 = edges
    if e21 != "none":
        return None
    twin = (e20, e10, "none", e30, e32, e31)
    return twin if twin != edges else None


@cache
def _op_counts(edges: tuple[str, ...]) -> tuple[float, ...]:
    """The values of ``_COUNT_NAMES``: op kinds over all edges, over :func:`output_edges`, disconnected,
    over :func:`dead_ops_kept`."""
    kept, dead_kept = [op for _, _, op in output_edges(edges)], dead_ops_kept(edges)
    return (*(float(edges.count(op)) for op in _COUNTED_OPS), *(float(kept.count(op)) for op in _COUNTED_OPS),
            float(not live_edges(edges)), *(float(dead_kept.count(op)) for op in _COUNTED_OPS))


@cache
def live_edges(edges: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    """``(source, target, op)`` of the edges that influence the cell output, by target then source."""
    op_of = {edge: op for edge, op in zip(EDGES, edges)}
    fed = {0}  # nodes reachable from the input
    for dst in range(1, NUM_NODES):
        if any(src in fed and op_of[dst, src] != "none" for src in range(dst)):
            fed.add(dst)
    feeding = _nodes_reaching_output(op_of)
    return tuple(
        (src, dst, op) for (dst, src), op in zip(EDGES, edges)
        if op != "none" and src in fed and dst in feeding
    )


@lru_cache(maxsize=4096)
def _cell_specs(edges: tuple[str, ...], channels: int, h: int, w: int) -> tuple[LayerSpec, ...]:
    live = live_edges(edges)
    specs: list[LayerSpec] = []
    for node in range(1, NUM_NODES):
        incoming = [op for _, dst, op in live if dst == node]
        for op in incoming:
            if op.startswith("nor_conv_"):
                kernel = int(op[-1])
                specs.append(costs.conv(channels, channels, h, w, kernel, 1, activation="relu"))
            elif op == "avg_pool_3x3":
                specs.append(costs.pool(channels, h, w, 3, 1))
        if len(incoming) > 1:
            specs.append(costs.elementwise("add", channels, h, w, inputs=len(incoming)))
    return tuple(specs)


@lru_cache(maxsize=64)
def _reduction_specs(c_in: int, c_out: int, h: int, w: int) -> tuple[LayerSpec, ...]:
    """The stride-2 residual basic block: ReLU-Conv3x3(s2)-BN, ReLU-Conv3x3-BN; AvgPool2 + 1x1 conv."""
    conv_a = costs.conv(c_in, c_out, h, w, 3, 2, activation="relu")
    h2, w2 = conv_a.h_out, conv_a.w_out
    return (
        conv_a,
        costs.conv(c_out, c_out, h2, w2, 3, 1, activation="relu"),
        costs.pool(c_in, h, w, 2, 2, padding=0),
        costs.conv(c_in, c_out, h2, w2, 1, 1, bn=False),
        costs.elementwise("add", c_out, h2, w2),
    )


class NB201Space(PositionalOpsSpace):
    name = "nb201"
    description = ("NAS-Bench-201 cell space: 6 edges x 5 ops (15,625 cells), tabular accuracy and latency "
                   "data")
    config_cls = NB201Config
    positions, ops, ops_field = PARAM_NAMES, OPS, "edges"

    def build(self, config: ArchConfig, num_classes: int = 10, in_chans: int = 3,
              img_size: int | None = None) -> Any:
        from .models.nb201_net import NB201Net

        config = self.check_config(config)
        size = 32 if img_size is None else img_size
        self.check_input_shape((in_chans, size, size), multiple_of=4)
        return NB201Net(live_edges(config.edges), num_classes=num_classes, in_chans=in_chans,
                        stage_channels=STAGE_CHANNELS, cells_per_stage=CELLS_PER_STAGE)

    def layers(self, config: ArchConfig, input_shape: InputShape | None = None,
               num_classes: int = 10) -> list[LayerSpec]:
        edges = self.check_config(config).edges
        c, h, w = self.check_input_shape(input_shape or self.input_shape(config), multiple_of=4)
        specs = [costs.conv(c, STAGE_CHANNELS[0], h, w, 3, 1)]  # stem: conv + BN
        c_prev = STAGE_CHANNELS[0]
        for stage, channels in enumerate(STAGE_CHANNELS):
            if stage:
                specs.extend(_reduction_specs(c_prev, channels, h, w))
                h, w = h // 2, w // 2
            specs.extend(_cell_specs(edges, channels, h, w) * CELLS_PER_STAGE)
            c_prev = channels
        specs += [costs.norm(c_prev, h, w, activation="relu"), costs.global_pool(c_prev, h, w),
                  costs.linear(c_prev, num_classes)]
        return specs

    def encoding_names(self) -> tuple[str, ...]:
        return super().encoding_names() + _COUNT_NAMES

    def encode(self, config: ArchConfig) -> tuple[float, ...]:
        return super().encode(config) + _op_counts(self.check_config(config).edges)

    def extremes(self) -> tuple[NB201Config, NB201Config]:
        """All ``none`` (no cell op at all) and all ``nor_conv_3x3`` (every edge a 3x3 conv)."""
        return NB201Config(("none",) * len(EDGES)), NB201Config(("nor_conv_3x3",) * len(EDGES))
