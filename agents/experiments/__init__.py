"""Experiments built on whole runs: comparisons of agents over seeds (tables, plots, the quality–diversity frontier)
and the self-imitation control."""
