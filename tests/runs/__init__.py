"""Tests of chat.runs: the one lifecycle every surface uses."""
