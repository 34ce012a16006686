"""The paper's experiments: the plan, the results runs stored, one module per figure or table,
the claims and the report (docs/architecture.md).

`nrc.experiments.reproduce.reproduce(preset, datasets, out)` runs everything.
"""
