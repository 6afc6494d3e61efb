"""Benchmarks of the serving and training paths, run with ``python -m bench`` (``make bench``).

Every target is a ratio between figures measured side by side in the same run, so a busy
machine slows both sides of a comparison alike.
"""
