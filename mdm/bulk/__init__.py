"""Bulk reconciliation: whole files in, golden records out (``reconcile``)."""
