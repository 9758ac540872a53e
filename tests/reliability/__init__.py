"""Reliability: fault injection, server restarts, concurrency and bad input."""
