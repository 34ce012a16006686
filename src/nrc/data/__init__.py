"""MuJoCo behaviour-cloning datasets: experts, collection, loaders and the regression view (§4).

`load("swimmer" | "reacher" | "hopper")` gives the shipped paper-sized train/test tensors.
"""

from nrc.data.loaders import Transitions, read_d4rl, read_jat, read_minari
from nrc.data.regression import RegressionData, load
from nrc.data.stats import Table1Row, table1_row

__all__ = [
    "RegressionData",
    "Table1Row",
    "Transitions",
    "load",
    "read_d4rl",
    "read_jat",
    "read_minari",
    "table1_row",
]
