"""The sentences simulated models build their answers and analyses from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Debate:
    """A question on which models take different sides, so a judge finds real contradictions."""

    topic: str
    positions: tuple[str, ...]


DEBATES: tuple[Debate, ...] = (
    Debate(
        "how quickly to act",
        (
            "Move quickly: the cost of waiting is higher than the risk of an imperfect first step.",
            "Go slowly: a careful evaluation now is cheaper than an expensive reversal later.",
        ),
    ),
    Debate(
        "build versus buy",
        (
            "Prefer an established, off-the-shelf option and adapt the process around it.",
            "Build the core piece in-house, because that is where the real differentiation lies.",
        ),
    ),
    Debate(
        "how strong the evidence is",
        (
            "The available evidence is strong and broadly consistent across independent sources.",
            "The evidence is thinner than it looks: most of it comes from small or self-selected samples.",
        ),
    ),
    Debate(
        "where the main risk lies",
        (
            "The main risk is technical: scaling, reliability and the edge cases nobody tested.",
            "The main risk is organisational: ownership, adoption and keeping the knowledge in the team.",
            "The main risk is financial: running costs tend to grow faster than the benefits.",
        ),
    ),
    Debate(
        "whether to standardise early",
        (
            "Standardise early; divergent approaches are much harder to reconcile later.",
            "Keep options open until real usage shows which approach deserves to become the standard.",
        ),
    ),
    Debate(
        "what to optimise first",
        (
            "Optimise for simplicity first; performance problems are easier to fix in a simple system.",
            "Optimise for performance from the start; retrofitting it later touches everything.",
            "Optimise for cost first; the budget is the constraint that actually binds.",
        ),
    ),
)

CONSENSUS_POINTS: tuple[str, ...] = (
    "Start from the concrete requirements rather than from general preferences or fashion.",
    "Run a small, time-boxed pilot before committing: it answers more than a long debate.",
    "The total cost includes people's time and maintenance, not only the price on the invoice.",
    "Prefer choices that are cheap to reverse while the uncertainty is still high.",
    "Write down the assumptions so the decision can be revisited when they change.",
    "Most of the risk sits at the boundaries: integration, migration and data quality.",
    "Measure the outcome with one or two metrics agreed on in advance.",
    "Involve the people who will operate the result, not only the people who choose it.",
)

COVERAGE_POINTS: tuple[str, ...] = (
    "Security and compliance reviews add weeks if they are not planned from the start.",
    "Vendor lock-in is a real cost, but it is often overstated for small deployments.",
    "Documentation and onboarding decide whether the change survives the first reorganisation.",
    "Latency matters more to users than throughput in interactive settings.",
    "An exit plan, agreed up front, makes every later negotiation easier.",
    "Regional regulations can change the answer entirely for some teams.",
    "Monitoring has to be in place before launch, not added after the first incident.",
    "Training costs are usually underestimated by a factor of two or three.",
)

UNIQUE_INSIGHTS: tuple[str, ...] = (
    "A second-order effect is easy to miss: the choice changes who is on call, and therefore who quits.",
    "Historical base rates suggest that about a third of similar projects are abandoned within two years.",
    "The decision can be split in two: the reversible half can be made today, the rest after the pilot.",
    "Publishing the evaluation criteria in advance reduces internal politics more than any tool does.",
    "A cheaper option used twice often beats an expensive one used once: iteration speed compounds.",
    "Small teams should weigh the hiring market: a popular option is easier to staff.",
    "The hidden cost is context switching: each extra system adds a little friction to every task.",
    "Regulators increasingly ask for an audit trail, so keeping one from day one is cheap insurance.",
)

BLIND_SPOTS: tuple[str, ...] = (
    "None of the answers estimates the cost of doing nothing.",
    "No answer considers how the decision affects existing customers during the transition.",
    "The answers ignore accessibility and users on slow connections.",
    "Nobody asks who owns the outcome once the project team moves on.",
    "The long-term maintenance burden beyond the first year is not discussed.",
    "No answer cites primary sources or recent data.",
)

INTROS: tuple[str, ...] = (
    "Short answer: it depends on a few concrete constraints, and most of them can be checked quickly.",
    "The details matter more than the headline here, so here is how I would break it down.",
    "There is no universal answer, but there is a sensible default and a few clear exceptions.",
    "The honest answer has two parts: what the evidence supports, and what remains a judgement call.",
)

DETAILS: tuple[str, ...] = (
    "In practice the first month decides most of the outcome. Teams that set a clear scope, a deadline "
    "and a single owner tend to finish; teams that keep the scope open tend to drift.",
    "It helps to compare options on the same small task end to end. The numbers that come out of such a "
    "test are rarely the ones people expected, and they are far more persuasive than opinions.",
    "Cost estimates should include a margin for the unknowns. A range with an explicit confidence level "
    "is more useful to a decision maker than a single precise-looking figure.",
    "Expect the second half of the work to take longer than the first. Integration, edge cases and "
    "documentation are where schedules slip, so plan checkpoints there.",
    "Talk to two or three teams who made the same choice a year ago. Their regrets are the most "
    "valuable input you can get, and they are usually happy to share them.",
    "Keep a short decision record: the options, the criteria, the choice and the reasons. It costs an "
    "hour and saves many meetings when the question comes back.",
    "Beware of comparing a mature option with a promising one on features alone. The mature option's "
    "problems are known and documented; the promising one's are still waiting to be discovered.",
    "Set a budget for the evaluation itself. Open-ended research expands to fill the time available, "
    "and a decision made a month later is rarely a month better.",
    "Consider the people side early. Whoever maintains the result needs to understand it, and a choice "
    "that only one person understands is a risk in its own right.",
    "Plan the rollback before the rollout. Knowing exactly how to undo a change makes it much easier "
    "to approve, and much calmer to carry out.",
    "Look at the failure modes, not only the happy path. The option that fails loudly and early is "
    "usually preferable to the one that fails quietly and late.",
    "Check the assumptions against the last twelve months of real data. Plans built on averages often "
    "miss the peaks, and the peaks are where things break.",
)

TABLE_ROWS: tuple[str, ...] = (
    "Start small",
    "Commit fully",
    "Wait and measure",
    "Hybrid approach",
)

CLOSINGS: tuple[str, ...] = (
    "If you share more about your constraints, I can make this recommendation more specific.",
    "In short: decide what would change your mind, test that first, and commit once the test is in.",
    "Whatever you choose, revisit the decision after the pilot with the numbers in hand.",
    "The safest path is the one you can measure and reverse; start there.",
)

CODE_SNIPPETS: tuple[tuple[str, str], ...] = (
    (
        "python",
        "def weighted_score(option: dict[str, float], weights: dict[str, float]) -> float:\n"
        "    return sum(option[criterion] * weight for criterion, weight in weights.items())\n"
        "\n"
        'weights = {"cost": 0.4, "risk": 0.35, "speed": 0.25}\n'
        'print(weighted_score({"cost": 7, "risk": 5, "speed": 8}, weights))',
    ),
    (
        "bash",
        "# time-box the pilot and keep its results together\n"
        "mkdir -p pilot/results\n"
        "./run-pilot.sh --duration 14d --report pilot/results/summary.md",
    ),
    (
        "sql",
        "SELECT option, AVG(score) AS mean_score, COUNT(*) AS trials\n"
        "FROM pilot_results\n"
        "GROUP BY option\n"
        "ORDER BY mean_score DESC;",
    ),
)

REASONING: tuple[str, ...] = (
    "The user asks about {subject}. The key tension is {topic}; I lean towards this: {position} "
    "I should give a short direct answer, then the key points, then caveats.",
    "Let me think about {subject}. Which constraints matter most? Probably {topic}. My position: "
    "{position} I will structure the answer with a heading and a bullet list.",
)

ASSESSMENTS: tuple[str, ...] = (
    "Response {label} is better supported: it rests on concrete constraints rather than preference.",
    "Response {label} has the stronger case here, although the other view holds for very small teams.",
    "On balance Response {label} is right; the opposing answers generalise from too few cases.",
)

WHY_IT_MATTERS: tuple[str, ...] = (
    "It changes the recommendation for teams at the margin, which no other answer noticed.",
    "It is cheap to act on and reduces the main risk identified by the panel.",
    "It gives the reader a concrete way to test the advice instead of trusting it.",
)
