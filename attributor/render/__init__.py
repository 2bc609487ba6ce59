"""Renderers: each takes a report document (never engine objects) and produces text or JSON."""
