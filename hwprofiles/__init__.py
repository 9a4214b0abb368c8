"""Hardware profiles: per-device latency measurements and how they are taken."""
