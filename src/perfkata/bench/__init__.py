"""The instruments: probes, timing statistics, scaling fits, thresholds.

This package knows nothing of katas: it measures whatever runs between `before` and
`after` and turns raw samples into numbers that can be judged.
"""
