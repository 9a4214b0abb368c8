"""Finalize: distill, compress, export and measure the winners; the model card and the ladder."""
