"""Sweeps: a grid of what-ifs run on a Dask cluster, with a trade-off table and page."""
