"""How a request's temperature and seed vary a simulated answer, one named choice at a time."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

# What a request that sends no temperature samples at: the providers' default.
DEFAULT_TEMPERATURE = 1.0


def digest_int(*parts: str) -> int:
    # sha256, not hash(): Python salts str hashes per process, and answers must not change between runs.
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def seeded_random(*parts: str) -> random.Random:
    return random.Random(digest_int(*parts))


@dataclass(frozen=True)
class Sampling:
    """How one request samples: its `temperature` and `seed`, and the panel seat it answers for
    (chat.providers.types.SEAT_HEADER), which stands in for the seed when it sends none."""

    temperature: float | None = None
    seed: int | None = None
    seat: int | None = None

    @property
    def variant(self) -> str | None:
        """What names this request's own sample: its seed, else its seat. None (no seed, seat 0
        or no seat) samples nothing of its own: the model's canonical text."""
        if self.seed is not None:
            return f"seed {self.seed}"
        return f"seat {self.seat}" if self.seat else None

    def chance_of_fresh(self, above: float = 0.0) -> float:
        """The chance that a choice which starts to vary at temperature `above` is made afresh."""
        temperature = DEFAULT_TEMPERATURE if self.temperature is None else self.temperature
        return min(1.0, max(0.0, temperature - above))


# One text per model and question: what temperature 0 writes, and a lone call with no seed.
CANONICAL = Sampling(temperature=0)


class Choices:
    """An answer's choices (its intro, its estimate, which points, ...), each made by name: the
    model's canonical one, or this request's own fresh one.

    The temperature is the chance that a choice is made afresh: at 0 none is, so every seat and
    every seed write the model's canonical text; at 1 (the providers' default) every one is.
    A choice's coin is fixed by the variant and the choice's name, so a hotter request keeps the
    fresh choices of a cooler one with the same seed and adds more: it strays further from the
    canonical text, not elsewhere. The same seed (or seat) and temperature make the same choices,
    so the simulator stays deterministic, as tests and benchmarks need.
    """

    def __init__(self, sampling: Sampling, *parts: str) -> None:
        self._sampling = sampling
        self._parts = parts

    def fresh(self, name: str, *, above: float = 0.0) -> random.Random | None:
        """The generator of the choice `name` if this request makes it afresh, else None.
        `above`: the temperature from which the choice starts to vary (0: from the first degree)."""
        variant = self._sampling.variant
        if variant is None:
            return None
        coin = digest_int(*self._parts, variant, name, "coin") / 2**64
        if coin >= self._sampling.chance_of_fresh(above):
            return None
        return seeded_random(*self._parts, variant, name)

    def make[T](self, name: str, draw: Callable[[random.Random], T]) -> T:
        """`draw`'s choice with the fresh generator, or with the canonical one."""
        fresh = self.fresh(name)
        return draw(seeded_random(*self._parts, name) if fresh is None else fresh)
