"""How often a running run saves its text, frames it for viewers and says it is alive."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Pacing:
    # 1 s: at most a second of text is lost in a crash (a viewer's snapshot comes from the run
    # itself, never from these rows), and the rows are written at most twice a second per run
    # however many tokens come: under 0.01 writes per token from 100 tokens/s (bench/README.md).
    flush_seconds: float = 1.0
    # 50 ms: smoother than the eye needs, and a frame carries 5+ tokens at 100 tokens/s, so a
    # frame's fixed costs (the message, the socket's write) are paid a fifth as often as tokens
    # arrive (bench/README.md).
    frame_seconds: float = 0.05
    # The run says it is alive about this often (saved with the next flush).
    heartbeat_seconds: float = 10.0

    @classmethod
    def configured(cls) -> Pacing:
        return cls(heartbeat_seconds=settings.FUSIONROOM_HEARTBEAT_SECONDS)
