"""Declarative Pyomo formulations; each module states its math in its docstring."""
