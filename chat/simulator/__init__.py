"""FusionRoom's own loopback OpenAI/OpenRouter-compatible server, for tests, benchmarks and demos."""

from __future__ import annotations

from chat.simulator.catalog import DEFAULT_MODELS
from chat.simulator.config import Fault, SimulatedModel
from chat.simulator.request_log import Outcome, RequestRecord
from chat.simulator.simulator import Simulator
from chat.simulator.thread import SimulatorThread

__all__ = [
    "DEFAULT_MODELS",
    "Fault",
    "Outcome",
    "RequestRecord",
    "SimulatedModel",
    "Simulator",
    "SimulatorThread",
]
