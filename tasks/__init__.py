"""Prefect tasks: thin wrappers that give library calls retries, caching and logging.

No science lives here: every task calls ``hessian`` and returns small, JSON-able results.
Tasks whose recomputation is expensive are cached on their inputs, which carry the identity of
what they read (checkpoint hashes, sketch fingerprints and solution ids), with results kept in
the run directory; sketches and checkpoints are resumable on disk at a finer grain (blocks,
steps) than any cache.
"""
