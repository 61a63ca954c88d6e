"""Independent checks of a written alignment plan, from its tables alone."""
