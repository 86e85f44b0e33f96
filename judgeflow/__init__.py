"""judgeflow: keep an LLM-as-a-judge aligned with human raters, week after week."""

import os

# Offline-safe by default: litellm otherwise downloads its price map on first import and dspy
# refreshes model metadata from the internet (FIELD_NOTES). Set before either is imported.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

__version__ = "0.1.0"
