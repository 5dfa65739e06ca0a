"""Evals as repeated trials: markers, selection, the trial runner, sequential verdicts.

The only stage that imports scipy.
"""
