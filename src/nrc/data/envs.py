"""Temporary bridge for callers written before `nrc.data.registry`: `TASKS` maps each MuJoCo
task to its `DatasetSpec` (env_id, input_dim, n, train_size, train_episodes)."""

from nrc.data.registry import MUJOCO, spec

TASKS = {name: spec(name) for name in MUJOCO}
