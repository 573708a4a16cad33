"""Pieces shared by pages: components, and the state mixins behind the stateful ones (unlock, ledger)."""
