"""The tiny models and quick timing protocol the tests measure and train."""

from __future__ import annotations

from hwprofiles.onnx_timing import Protocol

#: a tiny mobile_cnn: 16 px, one block per stage, narrow
TINY = {"mobile_cnn": {"resolutions": (16,), "widths": (0.5, 0.75), "stems": (8,), "heads": (64, 128),
                       "depths": ((1,),) * 6}}
QUICK = Protocol(warmup_runs=1, min_runs=3, min_duration_s=0.0)
