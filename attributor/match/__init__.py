"""Matching: LSH candidates -> similarity -> best matches per function -> per sample/family/actor."""
