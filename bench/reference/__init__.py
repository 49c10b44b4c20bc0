"""Minimal broadcast server on the `websockets` library (the performance reference)."""
