"""The paper's experiments: one module per figure or table, the claims, the report (issue 6).

`nrc.experiments.reproduce.reproduce(preset, datasets, out)` runs everything.
"""
