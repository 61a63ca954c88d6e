"""Sales force sizing under response curves (kind ``sizing``) and sizing jointly with alignment
(kind ``sizing_joint``). The math lives in :mod:`models.sizing` and :mod:`models.sizing_joint`."""
