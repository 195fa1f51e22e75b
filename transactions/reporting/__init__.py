"""Read-only numbers for people: the one implementation of a day's totals (`totals`), the daily
settlement report (`daily`), its spreadsheets and every other export's writing (`exports`), and
the lists the dashboard reads beside them (`activity`).

Only `reconciliation` writes: it records each closed batch (a `Batch` row) and its verdict against
the closing ticket, taking its numbers from `totals`; nothing here changes an intent's state.
"""
