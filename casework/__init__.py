"""Casework: the case store, the case-review web page and the access log."""
