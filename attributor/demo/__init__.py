"""The demo corpus: benign C toolkits in ``src/`` and the code that compiles them (``build``)."""
