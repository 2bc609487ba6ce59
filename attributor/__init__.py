"""attributor: evidence-based attribution of binaries to malware families and actors.

Pipeline (data flows one way): loading -> disasm -> fingerprint -> store -> match -> report -> render.
``cli`` is a leaf that nothing imports.
"""

__version__ = "0.1.0"
