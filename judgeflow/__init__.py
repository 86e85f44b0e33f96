"""judgeflow: keep an LLM-as-a-judge aligned with human raters, week after week."""

__version__ = "0.1.0"
