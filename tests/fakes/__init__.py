"""Fake remote services over real HTTP, for integration tests and benchmarks."""
