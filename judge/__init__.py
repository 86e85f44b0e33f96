"""The relevance judge: a DSPy program, its contract, metrics and LM client."""

import judgeflow  # noqa: F401  (sets the offline environment before litellm/dspy load)
