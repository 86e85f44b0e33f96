"""Pieces of the evaluation engine (tasks/evaluate.py): retries, the prediction cache, storage, progress."""
