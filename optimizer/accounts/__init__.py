"""Account-to-rep assignment (scenario kind ``accounts``): named accounts, capacity, travel, continuity.

One-way flow, as for alignment: scenario (``schema``) -> account and rep tables (``readers``, ``data``) ->
travel times (``travel``) -> the full problem with its refusals (``problem``) -> certified solve
(``solve``: ``workspace``, ``pricing``, ``repair``, ``moves``, ``improve``, ``planstate``) -> tidy tables
(``tables``) -> independent checks (``checks``) -> map and summary (``map``, ``pipeline``).
The math lives in ``models.accounts``.
"""
