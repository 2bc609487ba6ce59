"""Network indicators (IP addresses, domains, URLs): canonical forms, flags and reasons."""

from attributor.indicators.canon import (
    Flag,
    Indicator,
    Kind,
    canon,
    canon_domain,
    canon_ip,
    canon_url,
    refang,
)

__all__ = ["Flag", "Indicator", "Kind", "canon", "canon_domain", "canon_ip", "canon_url", "refang"]
