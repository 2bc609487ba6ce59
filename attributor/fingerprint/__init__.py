"""Fingerprints: normalised instructions -> exact hash, MinHash signature, call edges per function."""

from attributor.fingerprint.model import FingerprintParams, SampleFingerprint

__all__ = ["FingerprintParams", "SampleFingerprint"]
