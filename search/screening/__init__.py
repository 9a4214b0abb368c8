"""Screening: the device's latency predictors score candidates, and the local device times them."""
