"""The HiGHS facade: the one place that talks to highspy and Pyomo's solver interfaces."""
