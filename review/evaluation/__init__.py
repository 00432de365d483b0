"""Evaluation of agents from labelled data: pure statistics (stats), synthetic data (simulation),
SQL aggregates (queries)."""
