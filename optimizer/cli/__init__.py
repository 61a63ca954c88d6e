"""The command line (`territory`): a thin layer over :mod:`optimizer.api`; imported by nothing."""
