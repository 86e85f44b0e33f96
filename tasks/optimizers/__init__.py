"""Optimizer searches behind tasks.optimize: one module per family."""
