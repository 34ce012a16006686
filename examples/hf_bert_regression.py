"""Hugging Face: a small random-weight BERT regressor (nothing downloaded) with CollapseCallback.
Usage: python examples/hf_bert_regression.py [--steps 60] [--samples 256]"""

import argparse

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from nrc.integrations.transformers import CollapseCallback


class Tokens(torch.utils.data.Dataset):  # random tokens; targets: mean and spread of the ids
    def __init__(self, samples: int, seed: int, vocab: int = 64, length: int = 12) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, vocab, (samples, length), generator=g)
        ids = self.ids.float() / vocab
        self.labels = torch.stack([ids.mean(1), ids.std(1)], 1)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def build_model(seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=16, num_labels=2, problem_type="regression",
    )  # fmt: skip
    return BertForSequenceClassification(config)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--samples", type=int, default=256)
    args = p.parse_args()
    trainer = Trainer(
        model=build_model(),
        args=TrainingArguments(
            output_dir="out/hf", max_steps=args.steps, eval_strategy="steps",
            eval_steps=args.steps // 2, learning_rate=1e-3, per_device_train_batch_size=32,
            save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
        ),
        train_dataset=Tokens(args.samples, seed=0), eval_dataset=Tokens(64, seed=1),
        callbacks=[CollapseCallback()],  # finds model.classifier
    )  # fmt: skip
    trainer.train()
    metrics = trainer.evaluate()
    keys = ("eval_loss", "eval_nrc/nrc1", "eval_nrc/nrc2", "eval_nrc/nrc3", "eval_nrc/r2")
    print({k: f"{metrics[k]:.3g}" for k in keys})


if __name__ == "__main__":
    main()
