"""The merchant reports' data: daily aggregates and the figures made from them.

- ``buckets``: recompute the aggregates of some local days of a merchant (the only writer).
- ``aggregates``: the incremental job (every minute), the nightly reconcile, the rebuild.
- ``selectors``: ``program_report`` and ``top_members``, read from the aggregates only.
- ``figures``: the arithmetic of ratios, money, cohorts, breakage and deferred revenue.
- ``definitions``: each figure's label and how it is counted, for pages and CSV files.
- ``billing``: active members posted as monthly usage for the invoices.
"""
