"""Internal helpers of the provider: not part of its public API."""
