"""Collapse metrics for the Hugging Face ``Trainer`` (owns the ``CollapseCallback``).

For regression heads (``AutoModelForSequenceClassification`` with ``problem_type="regression"``
and ``num_labels=n``, or any model whose head is a Linear): after each evaluation the callback
passes the evaluation set through the model once more with the head's inputs captured, and adds
the report to the evaluation's metrics as ``eval_nrc/<metric>``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from nrc.integrations.common import find_head, measure, metric_items
from nrc.metrics import Convention

log = logging.getLogger(__name__)


def inputs_and_labels(
    batches: Iterable[Mapping[str, Any]], device: torch.device, label_key: str
) -> Iterator[tuple[dict[str, Any], torch.Tensor]]:
    """(model inputs, labels) of each batch dict, moved to ``device``; the labels are left out
    of the inputs so the model computes no loss."""
    for batch in batches:
        if label_key not in batch:
            raise ValueError(
                f"eval batch: no {label_key!r} key (has {sorted(batch)}); the regression targets "
                "are needed to measure collapse"
            )
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        yield {k: v for k, v in moved.items() if k != label_key}, moved[label_key]


class CollapseCallback(TrainerCallback):
    """Adds NRC1–3, γ, EVR, R², … of the model's head on the evaluation set to the metrics of
    every evaluation, as ``eval_nrc/nrc1``, ``eval_nrc/nrc2``, … (``metric_key_prefix`` of the
    evaluation + ``nrc/``).

    ``head``: the head module or its dotted name; default: ``classifier`` (or
    ``classifier.out_proj``), ``score``, ``head``, ``fc``, else the last ``nn.Linear``.
    ``label_key``: the batch entry holding the targets. ``history`` keeps one dict per
    evaluation (``step`` and the metrics).

    The Trainer logs an evaluation's metrics before ``on_evaluate``, so the added entries reach
    what reads the metrics afterwards: the dict ``trainer.evaluate()`` returns,
    ``state.log_history`` (``trainer_state.json``), ``metric_for_best_model="nrc/nrc1"`` and
    early stopping of callbacks registered after this one.
    """

    def __init__(
        self,
        head: nn.Module | str | None = None,
        *,
        label_key: str = "labels",
        gamma: float | None = None,
        convention: Convention | str | None = None,
    ) -> None:
        self.head, self.label_key = head, label_key
        self.gamma, self.convention = gamma, convention
        self.history: list[dict[str, float]] = []

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        model: nn.Module | None = None,
        eval_dataloader: Iterable[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Measure the head on ``eval_dataloader`` and add ``<prefix>_nrc/<metric>`` to
        ``metrics``."""
        if model is None or eval_dataloader is None or metrics is None:
            raise ValueError("on_evaluate: the Trainer passed no model, eval_dataloader or metrics")
        name, head = find_head(model, self.head)
        device = next(model.parameters()).device
        report = measure(
            model,
            head,
            inputs_and_labels(eval_dataloader, device, self.label_key),
            lambda inputs: model(**inputs),
            gamma=self.gamma,
            convention=self.convention,
        )
        prefix = next((k[: -len("loss")] for k in metrics if k.endswith("_loss")), "eval_")
        values = metric_items(report.to_dict(), prefix=f"{prefix}nrc/")
        metrics.update(values)
        if state.log_history and f"{prefix}loss" in state.log_history[-1]:
            state.log_history[-1].update(values)  # the entry of this evaluation
        self.history.append({"step": state.global_step} | values)
        log.info(
            "step %d, head %s: NRC1 %.3g NRC2 %.3g",
            state.global_step, name, report.nrc1, report.nrc2,
        )  # fmt: skip
