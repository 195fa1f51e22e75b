"""The finance day's records: fee and terms tables, liquidación imports, reconciliation
differences and each store's daily close. Models only; the logic lives in `reporting`
(deposits, liquidación matching) and `services` (writes)."""
