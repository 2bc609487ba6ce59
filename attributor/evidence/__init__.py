"""Evidence beyond shared code: crypto, capabilities, indicators, infrastructure."""
