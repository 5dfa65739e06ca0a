"""pytest11 entry point (placeholder until the gate lands)."""
