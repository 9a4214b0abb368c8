"""Training: datasets, the trainer and distillation."""
