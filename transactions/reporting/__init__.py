"""Read-only numbers for people: the one implementation of a day's totals (`totals`), the daily
settlement report (`daily`), its spreadsheets and every other export's writing (`exports`), and
the lists the dashboard reads beside them (`activity`).

Nothing here writes the ledger; batch records and their reconciliation against the closing
ticket live in `transactions.reconciliation`, which takes its numbers from `totals`.
"""
