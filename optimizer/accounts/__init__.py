"""Account-to-rep assignment (scenario kind ``accounts``): named accounts, capacity, travel, continuity.

One-way flow, as for alignment: scenario -> account and rep tables (``data``) -> travel times
(``travel``) -> the full problem with its refusals (``problem``) -> certified solve (``solve``, ``pricing``)
-> tidy tables (``tables``) -> independent checks (``checks``) -> map and summary (``map``, ``pipeline``).
The math lives in ``models.accounts``.
"""
