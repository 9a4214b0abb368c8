"""The shipped profiles: published device measurements of the nb201 and fbnet spaces.

Rebuild them with ``python -m hwprofiles.published --data ../shared/data``.
Sources (see ../shared/data/DATA.md): HW-NAS-Bench (ICLR 2021) for raspi4 and
pixel3 on NAS-Bench-201; the HELP (NeurIPS 2021) data release for the rest,
and for all FBNet columns (where raspi4 and pixel3 are sums of per-layer
lookup tables, not end-to-end timings).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spaces.nb201 import NB201Config, swapped_twin

from .importers import QUIRK_MAX_MS, read_published
from .measure import noise_floor_pct
from .profile import DeviceInfo, Profile, save_profile
from .store import SHIPPED_DIR

__all__ = ["PUBLISHED_DEVICES", "build_published_profiles", "twin_latencies"]

log = logging.getLogger(__name__)

HW_NAS_BENCH = "HW-NAS-Bench (Li et al., ICLR 2021)"
HELP = "HELP data release (Lee et al., NeurIPS 2021)"

#: name -> (description, cpu, gpu, batch, nb201 source, runtime)
PUBLISHED_DEVICES: dict[str, dict] = {
    "raspi4": dict(description="Raspberry Pi 4", cpu="Broadcom BCM2711 (4x Cortex-A72)", gpu="", batch=1,
                   nb201_source=HW_NAS_BENCH, runtime="tflite"),
    "pixel3": dict(description="Google Pixel 3 phone", cpu="Qualcomm Snapdragon 845", gpu="", batch=1,
                   nb201_source=HW_NAS_BENCH, runtime="tflite"),
    "samsung_a50": dict(description="Samsung Galaxy A50 phone (whole milliseconds)",
                        cpu="Samsung Exynos 9610", gpu="", batch=1, nb201_source=HELP, runtime=""),
    "gold_6226": dict(description="Intel Xeon Gold 6226 CPU", cpu="Intel Xeon Gold 6226", gpu="", batch=1,
                      nb201_source=HELP, runtime=""),
    "silver_4114": dict(description="Intel Xeon Silver 4114 CPU", cpu="Intel Xeon Silver 4114", gpu="",
                        batch=1, nb201_source=HELP, runtime=""),
    "titan_rtx_1": dict(description="NVIDIA Titan RTX, batch 1", cpu="", gpu="NVIDIA Titan RTX", batch=1,
                        nb201_source=HELP, runtime=""),
    "titan_rtx_32": dict(description="NVIDIA Titan RTX, batch 32", cpu="", gpu="NVIDIA Titan RTX", batch=32,
                         nb201_source=HELP, runtime=""),
    "2080ti_1": dict(description="NVIDIA RTX 2080 Ti, batch 1", cpu="", gpu="NVIDIA GeForce RTX 2080 Ti",
                     batch=1, nb201_source=HELP, runtime=""),
}

TABLES = {"nb201": "nb201_latency.csv", "fbnet": "fbnet_latency.csv"}


def twin_latencies(measured) -> tuple[dict, dict]:
    """``(first, again)``: the latencies of NAS-Bench-201 twins (:func:`swapped_twin`), keyed alike.

    The published columns were timed once per architecture, but twins are the same computation timed
    twice, so their spread is a run-to-run spread like the one ``profile_local`` stores.
    """
    latency = {NB201Config.from_str(m.arch_str).edges: m.latency_ms for m in measured}
    first, again = {}, {}
    for edges, ms in latency.items():
        twin = swapped_twin(edges)
        if twin is not None and edges < twin and twin in latency:
            first[edges], again[edges] = ms, latency[twin]
    return first, again


def build_published_profiles(data_dir: Path, out_dir: Path = SHIPPED_DIR) -> list[Path]:
    written = []
    for name, spec in PUBLISHED_DEVICES.items():
        rows, provenance, noise = [], {}, None
        for space, filename in TABLES.items():
            measured, dropped = read_published(data_dir / filename, space, f"{name}_ms", spec["batch"])
            rows.extend(measured)
            source = spec["nb201_source"] if space == "nb201" else HELP
            note = ("milliseconds per image as published; the input is 3x32x32"
                    + (", CIFAR-100 setting (100 classes)" if space == "fbnet" else ", CIFAR-10 setting"))
            if space == "fbnet" and name in ("raspi4", "pixel3"):
                note += "; sums of HW-NAS-Bench per-layer lookup tables, not end-to-end timings"
            if dropped:
                note += (f"; {dropped} rows below {QUIRK_MAX_MS} ms left out (cells disconnected by "
                         f"'none' edges, a known quirk of the data)")
            provenance[space] = {"source": source, "file": filename, "column": f"{name}_ms",
                                 "rows": len(measured), "dropped": dropped, "note": note}
            if space == "nb201":
                p90, median, pairs = noise_floor_pct(*twin_latencies(measured))
                noise = round(p90, 2)
                provenance[space]["noise_floor"] = (
                    f"p90 {p90:.2f}%, median {median:.2f}% relative spread over {pairs} pairs of twin cells "
                    f"(nodes 1 and 2 swapped: the same computation, timed separately)")
        device = DeviceInfo(
            name=name, description=spec["description"], cpu=spec["cpu"], gpu=spec["gpu"],
            runtime=spec["runtime"], batch=spec["batch"], precisions=("fp32",),
            protocol={"kind": "published", "statistic": "as published (per-image latency)"},
            date="published", provenance=provenance, noise_floor_pct=noise,
        )
        written.append(save_profile(Profile(device, tuple(rows)), out_dir / name))
        log.info("wrote %s (%d measurements)", out_dir / name, len(rows))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the shipped profiles from published measurements.")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_published_profiles(args.data, args.out)


if __name__ == "__main__":
    main()
