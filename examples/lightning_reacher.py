"""Lightning: the Table 2 MLP on Reacher; CollapseMonitor logs nrc/<metric> to every logger.
Usage: python examples/lightning_reacher.py [--epochs 20] [--devices 2] [--out out/lightning]"""

import argparse
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

import nrc.data
from nrc.integrations.lightning import CollapseMonitor
from nrc.models.mlp import MLP


class Regressor(pl.LightningModule):
    def __init__(self, d_in: int, n: int, width: int) -> None:
        super().__init__()
        self.model = MLP(d_in, n, width=width, activation="none")  # paper Table 2 (3 layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        return 0.5 * torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1, weight_decay=1e-2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--train-size", type=int, default=1000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("out/lightning"))
    args = p.parse_args()
    pl.seed_everything(0, verbose=False)
    data = nrc.data.load("reacher", train_size=args.train_size, test_size=40)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=50, shuffle=True)
    module = Regressor(data.x_train.shape[1], data.y_train.shape[1], args.width)
    monitor = CollapseMonitor(module.model.head, every_n_epochs=5)
    trainer = pl.Trainer(
        max_epochs=args.epochs, accelerator="cpu", devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto", callbacks=[monitor],
        logger=[CSVLogger(args.out), TensorBoardLogger(args.out)],
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, loader)
    if trainer.is_global_zero:
        keys = ("epoch", "nrc/nrc1", "nrc/nrc2", "nrc/nrc3", "nrc/r2")
        print({k: f"{monitor.history[-1][k]:.3g}" for k in keys})
        torch.save(module.model.state_dict(), args.out / "model.pt")


if __name__ == "__main__":
    main()
