"""Repairing a plan into connected territories (large instances with contiguity)."""
