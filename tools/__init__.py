"""Developer tools: benchmarks, the load generator, reconciliation, the agent runner.

Run them from the repository root as modules (``.venv/bin/python -m tools.bench_es``)
and import them as ``tools.<name>``: one name per module, so a module is never loaded
twice under two names."""
