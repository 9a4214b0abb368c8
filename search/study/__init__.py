"""The study: run settings, storage, the trial record, coordination of drivers, and queries."""
