"""Benchmarks: scripts that print ratios measured in one run, never timed tests. Run each from the repository's
root as a module, e.g. ``python -m bench.ingest --runs 5``, so they import the tests' helpers (tests/support)."""
