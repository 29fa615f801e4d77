"""mas: run multi-agent LLM crews with guard rails, and triage what they leave behind."""

__version__ = "0.1.0"
