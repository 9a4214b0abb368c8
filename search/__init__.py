"""search: the CLI and the search machinery of the hardware-aware NAS tool."""

__version__ = "0.1.0"
