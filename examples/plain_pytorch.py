"""Plain PyTorch: the Table 2 MLP on Reacher, NRC measured with the torchmetrics metric.
Usage: python examples/plain_pytorch.py [--epochs 100] [--train-size 1000]"""

import argparse

import torch

import nrc.data
from nrc.integrations.torchmetrics import RegressionCollapse
from nrc.models.mlp import MLP


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--train-size", type=int, default=1000)
    p.add_argument("--width", type=int, default=256)
    args = p.parse_args()
    torch.manual_seed(0)
    data = nrc.data.load("reacher", train_size=args.train_size, test_size=40)
    model = MLP(data.x_train.shape[1], data.y_train.shape[1], width=args.width, activation="none")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-2)
    metric = RegressionCollapse(model.head)  # W and b are read from the head at compute()
    for epoch in range(1, args.epochs + 1):
        for idx in torch.randperm(len(data.x_train)).split(50):
            loss = 0.5 * torch.nn.functional.mse_loss(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % (args.epochs // 4) == 0:
            with torch.no_grad():  # the whole training set, as in the paper (§3.1)
                h = model.features(data.x_train)
                metric.update(h, data.y_train, model.head(h))
            row = metric.compute()
            metric.reset()
            print(
                f"epoch {epoch}: "
                + " ".join(f"{k} {row[k]:.3g}" for k in ("nrc1", "nrc2", "nrc3", "r2"))
            )


if __name__ == "__main__":
    main()
