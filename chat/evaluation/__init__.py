"""The evaluation harness: a suite's tasks asked of several systems (models, presets, panels,
self-fusion), every answer a real run through the run lifecycle and its start gate, graded per
criterion as DRACO does, and reported with bootstrap intervals and cost per accepted answer.

    suites      tasks and rubric criteria, read from JSONL or YAML, in our shape or DRACO's
    systems     the systems under test, as the command line and the form name them
    scoring     the scoring formula: task score, pass rate, harmful errors, axes, judge noise
    statistics  bootstrap intervals and paired comparisons (numpy, seeded)
    grading     one grader call per criterion and pass: MET or UNMET, or an error, never a guess

The modules above know nothing of Django; the runner, the report and the views below do.
"""
