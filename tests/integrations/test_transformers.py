"""Hugging Face CollapseCallback: a 2-layer random-weight BERT regressor fine-tuned a few steps;
the metrics added to each evaluation equal nrc.metrics.compute on the captured head inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import Trainer, TrainingArguments

from nrc.integrations.common import find_head
from nrc.integrations.transformers import CollapseCallback
from nrc.metrics import LayerProbe, compute

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hf_bert_regression.py"


def example():
    """examples/hf_bert_regression.py as a module (its dataset and model)."""
    spec = importlib.util.spec_from_file_location("hf_bert_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trainer_for(tmp_path: Path, callback: CollapseCallback, eval_set, steps: int = 8) -> Trainer:
    ex = example()
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=steps, eval_strategy="steps", eval_steps=4,
        learning_rate=1e-3, per_device_train_batch_size=16, per_device_eval_batch_size=16,
        save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    return Trainer(
        model=ex.build_model(), args=args, train_dataset=ex.Tokens(64, seed=0),
        eval_dataset=eval_set, callbacks=[callback],
    )  # fmt: skip


def captured_report(model: nn.Module, eval_set) -> dict:
    """compute() on the classifier's inputs captured over the evaluation set."""
    head = model.classifier
    model.eval()
    probe = LayerProbe({"head": head})
    h, p = [], []
    with probe, torch.no_grad():
        for i in range(len(eval_set)):
            model(input_ids=eval_set[i]["input_ids"][None])
            captured = probe.take()["head"]
            h.append(captured.inputs)
            p.append(captured.output)
    y = eval_set.labels
    return compute(torch.cat(h), head.weight, y, head.bias, predictions=torch.cat(p)).to_dict()


def test_evaluation_metrics_equal_compute_on_the_captured_head_inputs(tmp_path) -> None:
    callback = CollapseCallback()
    eval_set = example().Tokens(40, seed=1)
    trainer = trainer_for(tmp_path, callback, eval_set)
    trainer.train()
    metrics = trainer.evaluate()
    assert [h["step"] for h in callback.history] == [4, 8, 8]
    want = captured_report(trainer.model, eval_set)
    for key in ("nrc1", "nrc2", "nrc3", "gamma", "r2", "evr_1"):
        assert metrics[f"eval_nrc/{key}"] == pytest.approx(want[key], rel=1e-6), key
        assert callback.history[-1][f"eval_nrc/{key}"] == metrics[f"eval_nrc/{key}"]
    assert trainer.state.log_history[-1]["eval_nrc/nrc1"] == metrics["eval_nrc/nrc1"]


class RobertaLikeHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense, self.out_proj = nn.Linear(8, 8), nn.Linear(8, 2)


def test_heads_of_common_architectures_are_found() -> None:
    model = nn.Module()
    model.body, model.classifier = nn.Linear(4, 8), RobertaLikeHead()
    assert find_head(model)[0] == "classifier.out_proj"
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    assert find_head(plain) == ("2", plain[2])
    assert find_head(plain, "0") == ("0", plain[0])


def test_bad_heads_and_targets_name_what_was_expected(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"model: Sequential has no torch.nn.Linear layer"):
        find_head(nn.Sequential(nn.Conv1d(2, 2, 1), nn.ReLU()))
    with pytest.raises(TypeError, match=r"head 'bert.embeddings': expected a torch.nn.Linear"):
        find_head(example().build_model(), "bert.embeddings")
    eval_set = example().Tokens(16, seed=1)
    eval_set.labels = torch.cat([eval_set.labels, eval_set.labels[:, :1]], 1)  # 3 targets, n = 2
    callback = CollapseCallback()
    trainer = trainer_for(tmp_path, callback, eval_set)
    loader = trainer.get_eval_dataloader()
    with pytest.raises(ValueError, match=r"targets must be \(16, 2\)"):
        callback.on_evaluate(
            trainer.args, trainer.state, trainer.control, metrics={"eval_loss": 0.0},
            model=trainer.model, eval_dataloader=loader,
        )  # fmt: skip
