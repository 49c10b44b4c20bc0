"""Switchboard benchmark tools: comparison servers (baseline, reference) and the load generator."""
