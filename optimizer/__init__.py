"""Territory Optimizer: sales territory design and sizing, solved to a reported optimality gap."""

__version__ = "0.1.0"
