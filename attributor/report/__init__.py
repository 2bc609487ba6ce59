"""Versioned report documents (pydantic): the only thing renderers and consumers see."""
