"""Batched training: K MLPs of one architecture and one dataset stepped together in one process.

The K models' parameters are stacked along a leading model axis and every layer is one batched
matrix product (`torch.baddbmm`); one fused SGD update applies each model's own learning rate,
weight decay and momentum (per-model tensors, docs/training.md "Batched training"). Each model
keeps what makes it the run it would be alone: its initialisation (`build_model` of its own
config), its data order (its own seeded generator, the permutation `epoch_batches` draws), its
λ_H/λ_W, its schedule, and its run directory in the single-run format with its lock, table,
checkpoint and artifacts, written by the same callbacks (`CollapseMonitor`, `RunWriter`).

A member's parameters are views into the stack, so `measure` reads each model unstacked without
a copy. Every member's checkpoint is the single-run checkpoint of that run (its own weights,
optimizer state and generator state), so a killed stack resumes, and each member is also a run
that `nrc train --resume` can continue alone.

On CUDA the whole epoch (forward, loss, backward and update of every step, the last smaller
batch included: each step has its own static shape) is captured once in a CUDA graph and
replayed; the permutations are drawn on the host from the members' generators and copied into
the graph's static index buffer before each replay. On CPU the same epoch runs eagerly, each
step in chunks of `CPU_CHUNK` models whose activations stay in cache (docs/benchmarks.md,
"Batched training").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nrc.models.mlp import MLP, activation_module
from nrc.train.callbacks import CollapseMonitor, RunWriter
from nrc.train.config import TrainConfig, to_dict, validate
from nrc.train.loop import Loop, lr_at
from nrc.train.runner import check_same_config, restored_rows, write_missing_artifacts
from nrc.train.setup import RunData, Tensors, build_model, training_data
from nrc.train.store import LOG, RunInUseError, RunStore, expected_rows

if TYPE_CHECKING:
    from nrc.train.launch import RunSpec

log = logging.getLogger(__name__)

# Config keys that may differ between the members of one stack: each becomes a per-model tensor.
PER_MODEL_KEYS = (
    "weight_decay", "lambda_h", "lambda_w", "lr", "momentum", "milestones", "lr_gamma",
    "warmup_epochs", "seed",
)  # fmt: skip
# Keys the batched trainer does not implement (the single-run trainer handles them).
UNSTACKED = {"model": "mlp", "layers": "last", "snapshots": "none", "recalibrate_bn": False}
# Models per chunk of a CPU step, measured in docs/benchmarks.md ("Batched training"); on CUDA the
# whole stack is one chunk.
CPU_CHUNK = 4

Status = dict[str, Any]


def group_key(config: TrainConfig) -> tuple[tuple[str, Any], ...]:
    """The config values every member of one stack shares (all keys but `PER_MODEL_KEYS`)."""
    return tuple((k, v) for k, v in to_dict(config).items() if k not in PER_MODEL_KEYS)


def stackable(config: TrainConfig) -> str | None:
    """Why `config` cannot be trained in a stack (None when it can)."""
    for key, value in UNSTACKED.items():
        if getattr(config, key) != value:
            have = getattr(config, key)
            return f"config key {key!r} is {have!r}; batched training needs {value!r}"
    return None


def check_group(named: Sequence[tuple[str, TrainConfig]]) -> None:
    """Raise ValueError unless the (name, config) pairs can share one stack, naming the key."""
    if not named:
        raise ValueError("a stack needs at least one run")
    first_name, first = named[0]
    for name, config in named:
        validate(config)
        reason = stackable(config)
        if reason is not None:
            raise ValueError(f"run {name!r}: {reason}")
        for (key, value), (_, mine) in zip(group_key(first), group_key(config), strict=True):
            if value != mine:
                raise ValueError(
                    f"runs in one stack must share config key {key!r}: {first_name!r} has "
                    f"{value!r}, {name!r} has {mine!r}"
                )


def default_device() -> torch.device:
    """CUDA when this torch build sees a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Member(Loop):
    """One run of a stack: a `Loop` (its config, counters, generator, SGD state, callbacks)
    whose epochs a `Stack` runs. Its checkpoint is that of the run trained alone."""

    def __init__(
        self, name: str, store: RunStore, config: TrainConfig, model: MLP, data: Tensors
    ) -> None:
        self.monitor = CollapseMonitor(config)
        super().__init__(config, model, data, [self.monitor, RunWriter(store, self.monitor)])
        self.name, self.store = name, store
        self.torch_rng = torch.get_rng_state()  # the global stream right after its build_model
        self.stack: Stack | None = None
        self.index = 0
        self.error: str | None = None

    def state(self) -> dict[str, Any]:
        """The single-run checkpoint: own weights (copied out of the stack), SGD state with the
        momentum buffers the stack holds, own generator and torch RNG state."""
        if self.stack is not None:
            self.stack.write_momentum(self)
        state = super().state()
        state["model"] = {k: v.clone() for k, v in state["model"].items()}
        return state | {"torch_rng": self.torch_rng}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint of this run (the stack's or the run's own)."""
        super().restore(state)
        self.torch_rng = state["torch_rng"]
        self.monitor.rows = restored_rows(self.store, self.config, self.epoch)
        self.monitor.load_state_dict(state.get("monitor", {}))

    def fire(self, event: str) -> None:
        """Call `event` on every callback of this member."""
        for callback in self.callbacks:
            getattr(callback, event)(self)


def _linears(model: nn.Module) -> list[nn.Linear]:
    """The MLP's linear layers in order (hidden layers, then the head)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _per_model(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """A (K, 1, ...) tensor of per-model values that broadcasts against the stacked `like`."""
    shape = (len(values),) + (1,) * (like.ndim - 1)
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape(shape)


class Stack:
    """The parameters of K MLP members stacked along a leading model axis, and their SGD step.

    Construction copies each member's weights into the stack and makes the member's parameters
    views of its slice; momentum buffers are taken from the members' optimizer states. A step
    runs `chunk` models at a time (default: `CPU_CHUNK` on CPU, all of them on CUDA); each model's
    arithmetic is the same for every chunk size.
    """

    def __init__(
        self,
        members: Sequence[Member],
        x: torch.Tensor,
        y: torch.Tensor,
        chunk: int | None = None,
    ) -> None:
        self.members = list(members)
        cfg = self.members[0].config
        self.config, self.x, self.y = cfg, x, y
        if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
        whole = len(self.members) if x.device.type == "cuda" else CPU_CHUNK
        self.chunk = chunk if chunk is not None else whole
        self.acts = [nn.ReLU()] * (cfg.depth - 1) + [activation_module(cfg.activation)]
        layers = [_linears(m.model) for m in self.members]
        self.params: list[torch.Tensor] = []
        for per_member in zip(*layers, strict=True):
            for name in ("weight", "bias"):
                stacked = torch.stack([getattr(lin, name).detach() for lin in per_member])
                stacked.requires_grad_()
                for k, lin in enumerate(per_member):
                    getattr(lin, name).data = stacked.detach()[k]
                self.params.append(stacked)
        self.momentum = [m.config.momentum for m in self.members]
        self.buffers = [self._momentum_from(i, p) for i, p in enumerate(self.params)]
        decay = [m.config.weight_decay if cfg.regularization == "weight_decay" else 0.0
                 for m in self.members]  # fmt: skip
        self.wd = [_per_model(decay, p) for p in self.params]
        self.mom = [_per_model(self.momentum, p) for p in self.params]
        self.neg_lr = [_per_model([0.0] * len(self.members), p) for p in self.params]
        self.lambda_h = _per_model([m.config.lambda_h for m in self.members], self.params[0])
        self.lambda_w = _per_model([m.config.lambda_w for m in self.members], self.params[-2])
        self.perm = torch.zeros(len(self.members), x.shape[0], dtype=torch.long, device=x.device)
        self.last_loss = torch.zeros(len(self.members), dtype=x.dtype, device=x.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        for k, m in enumerate(self.members):
            m.stack, m.index = self, k

    def _momentum_from(self, i: int, param: torch.Tensor) -> torch.Tensor | None:
        """The stacked momentum buffer of parameter `i` (None when no member uses momentum)."""
        if not any(self.momentum):
            return None
        slices = []
        for m, p in zip(self.members, param.detach(), strict=True):
            own = list(m.model.parameters())[i]
            held = m.optimizer.state.get(own, {})
            slices.append(held.get("momentum_buffer", torch.zeros_like(p)))
        return torch.stack(slices)

    def write_momentum(self, member: Member) -> None:
        """Put the member's stacked momentum buffers into its own SGD state, as torch's SGD holds
        them (none before the first step or without momentum)."""
        if self.buffers[0] is None or member.step == 0 or member.config.momentum == 0:
            return
        for own, buf in zip(member.model.parameters(), self.buffers, strict=True):
            member.optimizer.state[own]["momentum_buffer"] = buf[member.index].clone()

    def forward(
        self, xb: torch.Tensor, params: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features h (k×B×width) and predictions (k×B×n) for batches k×B×D of the k members
        whose stacked parameters are `params` (slices of `self.params`)."""
        h = xb
        for j, act in enumerate(self.acts):
            h = act(torch.baddbmm(params[2 * j + 1].unsqueeze(1), h, params[2 * j].mT))
        return h, torch.baddbmm(params[-1].unsqueeze(1), h, params[-2].mT)

    def losses(
        self, xb: torch.Tensor, yb: torch.Tensor, rows: slice, params: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """The objective of each member `rows` (parameters `params`) on its batch
        (`nrc.train.loop.loss_fn` per model, paper eq. 1, §5.3): (1/2)·MSE; in "ufm" mode
        ‖WH + b − Y‖²_F/(2B) + (λ_H/2)·‖H‖²_F/B + (λ_W/2)·‖W‖²_F."""
        h, pred = self.forward(xb, params)
        if self.config.regularization != "ufm":
            return 0.5 * (pred - yb).pow(2).mean(dim=(1, 2))
        lam_h, lam_w = self.lambda_h[rows].reshape(-1), self.lambda_w[rows].reshape(-1)
        loss = 0.5 * (pred - yb).pow(2).sum(dim=(1, 2)) / xb.shape[1]
        loss = loss + 0.5 * lam_h * h.pow(2).sum(dim=(1, 2)) / xb.shape[1]
        return loss + 0.5 * lam_w * params[-2].pow(2).sum(dim=(1, 2))

    def _step(self, idx: torch.Tensor) -> None:
        """One SGD step of every member on the rows `idx` (K×B), `self.chunk` members at a time,
        as torch's SGD does it: d = g + wd·p; with momentum buf = m·buf + d, d = buf; p −= lr·d."""
        for start in range(0, len(self.members), self.chunk):
            rows = slice(start, start + self.chunk)
            params = [p[rows] for p in self.params]
            losses = self.losses(self.x[idx[rows]], self.y[idx[rows]], rows, params)
            grads = torch.autograd.grad(losses.sum(), params)
            with torch.no_grad():
                for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                    d = torch.addcmul(g, self.wd[i][rows], p)
                    buf = self.buffers[i]
                    if buf is not None:
                        d = buf[rows].mul_(self.mom[i][rows]).add_(d)
                    p.addcmul_(self.neg_lr[i][rows], d)
                self.last_loss[rows].copy_(losses)

    def _epoch_body(self) -> None:
        """Every step of one epoch over the permutations in `self.perm`."""
        m, batch = self.x.shape[0], self.config.batch_size
        for start in range(0, m, batch):
            self._step(self.perm[:, start : start + batch])

    def _capture(self) -> None:
        """Record the epoch in a CUDA graph: warm-up on a side stream (then undone), capture."""
        saved = [t.detach().clone() for t in self._state_tensors()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self._epoch_body()
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, value in zip(self._state_tensors(), saved, strict=True):
                t.copy_(value)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._epoch_body()

    def _state_tensors(self) -> list[torch.Tensor]:
        return self.params + [b for b in self.buffers if b is not None] + [self.last_loss]

    def run_epoch(self, epoch: int) -> None:
        """Train every member one epoch from `epoch` completed ones (host: draw the members'
        permutations and learning rates; device: the epoch, replayed as a graph on CUDA)."""
        perms = torch.stack(
            [torch.randperm(self.x.shape[0], generator=m.generator) for m in self.members]
        )
        rates = [-lr_at(m.config, epoch) for m in self.members]
        cuda = self.x.device.type == "cuda"
        with torch.no_grad():
            self.perm.copy_(perms.pin_memory() if cuda else perms, non_blocking=cuda)
            host = torch.tensor(rates, dtype=self.x.dtype)
            host = host.pin_memory() if cuda else host
            for t in self.neg_lr:
                t.reshape(-1).copy_(host, non_blocking=cuda)
        if not cuda:
            self._epoch_body()
            return
        if self.graph is None:
            self._capture()
        self.graph.replay()

    def diverged(self) -> list[int]:
        """Indices of members whose last step's loss is not finite (a host synchronisation)."""
        return torch.nonzero(~torch.isfinite(self.last_loss)).reshape(-1).tolist()


@contextlib.contextmanager
def member_logs(members: Sequence[Member]) -> Iterator[dict[str, Member | None]]:
    """Each member's train.log receives the `nrc.train` records emitted while it is the
    `current` member of the yielded dict (its evaluations, its start and end)."""
    logger = logging.getLogger("nrc.train")
    current: dict[str, Member | None] = {"member": None}
    handlers = []
    for member in members:
        handler = logging.FileHandler(member.store.file(LOG))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(lambda record, m=member: current["member"] is m)
        logger.addHandler(handler)
        handlers.append(handler)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield current
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(previous)


def _fire(members: Sequence[Member], event: str, logs: dict[str, Member | None]) -> None:
    """`event` for each live member in turn; a member whose callback fails is marked failed."""
    for member in members:
        if member.error is not None:
            continue
        logs["member"] = member
        try:
            member.fire(event)
        except Exception as err:  # a member's files may fail in any way; the others go on
            log.exception("run %s failed", member.name)
            member.error = f"{type(err).__name__}: {err}"
        finally:
            logs["member"] = None


def _train_phase(members: Sequence[Member], until: int, logs: dict[str, Member | None]) -> None:
    """Train `members` (all at one epoch) as one stack up to epoch `until`, with their events."""
    first = members[0]
    stack = Stack(members, first.data.x_train, first.data.y_train)
    cfg, steps = first.config, -(-first.data.x_train.shape[0] // first.config.batch_size)
    cuda = first.data.x_train.device.type == "cuda"
    started = {m.name: time.perf_counter() - m.elapsed for m in members}
    live = list(members)
    while live and live[0].epoch < until:
        epoch = live[0].epoch
        stack.run_epoch(epoch)
        checked = epoch + 1 == until or (epoch + 1) % cfg.eval_every == 0 or not cuda
        for k in stack.diverged() if checked else []:
            m = stack.members[k]
            if m.error is None:
                m.error = f"FloatingPointError: training diverged by epoch {epoch + 1}"
                log.error("run %s: training diverged by epoch %d", m.name, epoch + 1)
        for m in live:
            m.epoch, m.step = epoch + 1, m.step + steps
            m.elapsed = time.perf_counter() - started[m.name]
        live = [m for m in live if m.error is None]
        if (epoch + 1) % cfg.eval_every == 0:
            _fire(live, "on_evaluate", logs)
        _fire(live, "on_epoch_end", logs)
        live = [m for m in live if m.error is None]
    for m in members:
        stack.write_momentum(m)
        m.stack = None


def train_members(members: Sequence[Member]) -> None:
    """Train every member to its last epoch: members at the lowest epoch form a stack that runs
    until the next member's epoch (after a kill between two members' checkpoints their epochs
    differ by one checkpoint interval), so all of them end up in one stack."""
    with member_logs(members) as logs:
        for m in members:
            logs["member"] = m
            if m.resumed:
                log.info("resuming run %s at epoch %d", m.store.path, m.epoch)
            else:
                log.info("starting run %s: %s", m.store.path, to_dict(m.config))
            log.info("batched with %d runs on %s", len(members), m.data.x_train.device)
        logs["member"] = None
        _fire(members, "on_start", logs)
        _fire([m for m in members if not m.resumed], "on_evaluate", logs)
        while live := [m for m in members if m.error is None and m.epoch < m.config.epochs]:
            low = min(m.epoch for m in live)
            group = [m for m in live if m.epoch == low]
            until = min((m.epoch for m in live if m.epoch > low), default=group[0].config.epochs)
            try:
                _train_phase(group, until, logs)
            except Exception as err:  # e.g. out of memory: the whole stack fails, reported
                log.exception("stack of %d runs failed", len(group))
                for m in group:
                    m.error = m.error or f"{type(err).__name__}: {err}"
        _fire([m for m in members if m.error is None], "on_end", logs)
    for m in members:
        want = expected_rows(m.config)
        if m.error is None and len(m.monitor.rows) != want:
            m.error = f"RuntimeError: {len(m.monitor.rows)} metrics rows, expected {want}"


def _open(
    spec: RunSpec, data: RunData, device: torch.device, locks: contextlib.ExitStack
) -> Member | Status:
    """The member of `spec`, its directory locked and written as a single run's start; or the
    status of a run that needs no training (complete) or cannot start (locked, other config)."""
    store = RunStore(spec.dir)
    try:
        if store.has_config():
            check_same_config(store, spec.config)
        model = build_model(spec.config, tuple(data.info["input_shape"]), data.info["n"])
        member = Member(spec.name, store, spec.config, model.to(device), _on(data.tensors, device))
        locks.enter_context(store.locked())
        if store.has_config():
            check_same_config(store, spec.config)
            if store.is_complete():
                return {"status": "complete", "error": None}
        else:
            store.write_config(spec.config)
        state = store.read_checkpoint()
    except (ValueError, RunInUseError, OSError) as err:
        log.error("run %s: %s", spec.name, err)
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    if state is None:
        store.write_data(data.info, data.raw_targets)
    else:
        member.restore(state)
    return member


def _on(tensors: Tensors, device: torch.device) -> Tensors:
    """`tensors` on `device`."""
    return Tensors(*(getattr(tensors, f.name).to(device) for f in dataclasses.fields(Tensors)))


def train_stack(
    specs: Sequence[RunSpec], data: Any | None = None, device: torch.device | str | None = None
) -> dict[str, Status]:
    """Train the runs `specs` (one architecture, one dataset: `check_group`) as one stack on
    `device` (default: CUDA if present) and return each run's status.

    Finished runs are reused, unfinished ones resume from their checkpoints, a run held by
    another process or diverging fails alone. `data` as for `nrc.train.run`.
    """
    check_group([(s.name, s.config) for s in specs])
    device = torch.device(device) if device is not None else default_device()
    status: dict[str, Status] = {}
    pending = []
    for spec in specs:
        store = RunStore(spec.dir)
        if store.has_config() and store.is_complete() and store.has_artifacts():
            status[spec.name] = {"status": "complete", "error": None}
        else:
            pending.append(spec)
    if not pending:
        return status
    prepared = training_data(pending[0].config, data)
    with contextlib.ExitStack() as locks:
        members = []
        for spec in pending:
            opened = _open(spec, prepared, device, locks)
            if isinstance(opened, Member):
                members.append(opened)
            else:
                status[spec.name] = opened
        log.info("training %d runs as one stack on %s", len(members), device)
        train_members(members)
        for m in members:
            if m.error is None and not m.store.has_artifacts():  # resumed from an older nrc
                write_missing_artifacts(m.store, m.config, prepared, build_model)
            ok = m.error is None
            status[m.name] = {"status": "complete" if ok else "failed", "error": m.error}
    return {s.name: status[s.name] for s in specs}
