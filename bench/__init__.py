"""Benchmark harness: attributor against its peers (MCRIT, TLSH, ssdeep) on shared datasets.

Run ``python bench/run.py --help``. Tools run as subprocesses that read a JSON job and write a
JSON result (``bench/runners/`` in our venv, ``bench/peers/`` in a separate peers venv), so
their dependencies never mix and their CPU time and peak RSS are measured the same way.
"""
