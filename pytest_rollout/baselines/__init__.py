"""Stored eval runs: the SQLite store, per-layer fingerprints, which stored run is the baseline."""
