"""Evals of the support assistant (a package, so tests can import ``evals.casebook``)."""
