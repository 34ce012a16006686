"""Layer probes: the inputs and outputs of named modules of any ``nn.Module`` during forward
passes, through forward hooks (owns ``LayerProbe`` and ``Captured``).

Usage::

    probe = LayerProbe({"head": model.head, "block3": model.layer3}, pool="mean")
    with probe, torch.no_grad():
        model(x)
        batch = probe.take()      # {"head": Captured(inputs, output), "block3": ...}

Each module must run exactly once between two ``take()`` calls; ``take()`` raises otherwise,
so captures of two batches are never mixed. The hooks are removed when the ``with`` block ends,
also on an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import torch
from torch import nn

Pool = Literal["flatten", "mean"]
POOLS: tuple[str, ...] = ("flatten", "mean")


@dataclass(frozen=True)
class Captured:
    """One module's first positional input and its output for one batch, as rows (B×d, B×k),
    detached from the graph."""

    inputs: torch.Tensor
    output: torch.Tensor


def to_rows(x: torch.Tensor, pool: Pool) -> torch.Tensor:
    """A batch tensor (B, ...) as B rows: ``"flatten"`` keeps every entry (B, C·H·W…),
    ``"mean"`` averages over the dimensions after the second (global average pooling of a
    B×C×H×W feature map gives B×C). A 1-D tensor is B rows of one value."""
    x = x.detach()
    if x.ndim == 1:
        return x.unsqueeze(1)
    if pool == "mean" and x.ndim > 2:
        return x.mean(dim=tuple(range(2, x.ndim)))
    return x.reshape(x.shape[0], -1)


class LayerProbe:
    """Record the inputs and outputs of ``modules`` (name -> module) on every forward pass.

    ``pool`` says how inputs and outputs with more than two dimensions become rows (see
    :func:`to_rows`). Without ``on_capture`` the captures are kept (as copies, so in-place
    operations later in the model cannot change them) until :meth:`take`; with it, each
    capture is passed to ``on_capture(name, captured)`` inside the hook and nothing is kept.
    """

    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        pool: Pool = "flatten",
        on_capture: Callable[[str, Captured], None] | None = None,
    ) -> None:
        if not modules:
            raise ValueError("modules: give at least one name -> module")
        for name, module in modules.items():
            if not isinstance(module, nn.Module):
                raise TypeError(f"modules[{name!r}]: expected an nn.Module, got {type(module)}")
        if pool not in POOLS:
            raise ValueError(f"pool: {pool!r} is not one of {POOLS}")
        self.modules = dict(modules)
        self.pool = pool
        self.on_capture = on_capture
        self._captured: dict[str, Captured] = {}
        self._fired: dict[str, int] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            if not inputs or not isinstance(inputs[0], torch.Tensor):
                raise TypeError(f"LayerProbe: module {name!r} has no tensor positional input")
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"LayerProbe: module {name!r} returned {type(output).__name__}")
            captured = Captured(to_rows(inputs[0], self.pool), to_rows(output, self.pool))
            if self.on_capture is not None:
                self.on_capture(name, captured)
                return
            self._fired[name] = self._fired.get(name, 0) + 1
            self._captured[name] = Captured(captured.inputs.clone(), captured.output.clone())

        return hook

    def take(self) -> dict[str, Captured]:
        """The captures since the last ``take()`` (then cleared); raises a RuntimeError if a
        module did not run or ran more than once since then."""
        missing = [name for name in self.modules if name not in self._fired]
        twice = {name: k for name, k in self._fired.items() if k > 1}
        self._fired = {}
        captured, self._captured = self._captured, {}
        if missing:
            raise RuntimeError(f"LayerProbe: module(s) {missing} did not run since the last take()")
        if twice:
            raise RuntimeError(
                f"LayerProbe: module(s) ran more than once since the last take() {twice}; call "
                "take() after each forward pass"
            )
        return captured

    def __enter__(self) -> LayerProbe:
        if self._handles:
            raise RuntimeError("LayerProbe: already active (entered twice)")
        self._fired, self._captured = {}, {}
        self._handles = [
            module.register_forward_hook(self._hook(name)) for name, module in self.modules.items()
        ]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._fired, self._captured = {}, {}
