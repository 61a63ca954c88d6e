"""Comparing scenarios and plans: the comparison table and its offline report page."""
