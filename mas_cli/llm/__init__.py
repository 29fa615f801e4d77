"""Model providers behind one Protocol: openai, anthropic, offline, replay."""
