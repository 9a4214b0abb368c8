"""Torch models of the search spaces, imported lazily by each space's build()."""
