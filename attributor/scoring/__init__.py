"""Scoring: fuse code reuse, crypto, keys, capabilities, indicators and infrastructure into hypotheses."""
