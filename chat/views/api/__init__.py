"""The OpenAI-compatible API under /v1: a panel called like one model, with per-user tokens."""
