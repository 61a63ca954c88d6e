"""The certified alignment solve: pricing LP, rounding, dive, repair, local and window search, MIP."""
