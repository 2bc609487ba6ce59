"""Loading: bytes in, a :class:`~attributor.loading.binary.Binary` out. Nothing is executed."""

from attributor.loading.binary import Binary, Section
from attributor.loading.loader import Limits, load_bytes, load_path

__all__ = ["Binary", "Limits", "Section", "load_bytes", "load_path"]
