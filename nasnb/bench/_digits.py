"""The digits benchmark space: a small MLP on scikit-learn's 8x8 digits, and its trainer.

:func:`digits_model` builds the model whose every architecture the shipped table
``digits_table.json`` holds; :func:`train_digits` trains one fixed architecture with
fixed seeds and returns its metrics (the table's generator and the notebooks use it).
scikit-learn is imported only when data is loaded.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from ..mutables import InputChoice, LayerChoice

__all__ = ["DigitsNet", "digits_model", "load_digits_split", "train_digits"]


def _ops(width: int) -> OrderedDict[str, nn.Module]:
    return OrderedDict(
        relu=nn.Sequential(nn.Linear(width, width), nn.ReLU()),
        tanh=nn.Sequential(nn.Linear(width, width), nn.Tanh()),
        sigmoid=nn.Sequential(nn.Linear(width, width), nn.Sigmoid()),
        identity=nn.Identity(),
    )


class DigitsNet(nn.Module):
    """MLP for 8x8 digits: optional normalisation, three choice blocks, optional skips.

    Keys: ``norm`` (``"none"`` or ``"layernorm"`` after the stem), ``block1``..``block3``
    (``"relu"``, ``"tanh"``, ``"sigmoid"`` = Linear + activation, or ``"identity"``) and
    ``skip`` (an InputChoice with ``n_chosen=None`` adding any subset of block1/block2's
    outputs to block3's). 2 x 4**3 x 4 = 512 architectures.

    Parameters
    ----------
    width : int
        Hidden width. Default: 32.

    Examples
    --------
    >>> import torch
    >>> net = DigitsNet()
    >>> net(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """

    def __init__(self, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(64, width), nn.ReLU())
        self.norm = LayerChoice(OrderedDict(none=nn.Identity(), layernorm=nn.LayerNorm(width)), key="norm")
        self.block1 = LayerChoice(_ops(width), key="block1")
        self.block2 = LayerChoice(_ops(width), key="block2")
        self.block3 = LayerChoice(_ops(width), key="block3")
        self.skip = InputChoice(choose_from=["block1", "block2"], n_chosen=None, key="skip")
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.stem(x.flatten(1)))
        b1 = self.block1(h)
        b2 = self.block2(b1)
        out = self.block3(b2)
        extra = self.skip([b1, b2])
        if extra is not None:
            out = out + extra
        logits: torch.Tensor = self.head(out)
        return logits

    def example_input(self) -> torch.Tensor:
        """A batch of one flattened digit (``SearchSpace.fix`` probes the data flow with it)."""
        return torch.zeros(1, 64)


def digits_model(width: int = 32) -> DigitsNet:
    """A fresh :class:`DigitsNet` (the space of :func:`nasnb.bench.load_digits_benchmark`)."""
    return DigitsNet(width)


@lru_cache(maxsize=1)
def load_digits_split(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's digits scaled to [0, 1], split 1000 / 397 / 400 (train / val / test).

    The split is stratified and fixed by ``seed``. Needs scikit-learn.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the digits data needs scikit-learn: pip install 'nasnb[notebooks]'") from err
    x, y = load_digits(return_X_y=True)
    x = x.astype("float32") / 16.0
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=400, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, train_size=1000, random_state=seed, stratify=y_rest
    )

    def t(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(a), torch.from_numpy(b).long()

    return {"train": t(x_train, y_train), "val": t(x_val, y_val), "test": t(x_test, y_test)}


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_digits(
    model: nn.Module, *, epochs: int = 10, batch_size: int = 50, lr: float = 3e-3, seed: int = 0
) -> dict[str, float]:
    """Train ``model`` (64 inputs, 10 outputs) on digits with Adam; return its accuracies.

    Weights are re-initialised from ``seed`` first, so the result depends only on the
    architecture and the seed. Training runs on one thread (restored afterwards): for a
    model this small, more threads only add overhead.

    Returns
    -------
    dict
        ``val_acc`` (the search score), ``test_acc`` and ``params`` (trainable parameters).

    Examples
    --------
    >>> from nasnb import SearchSpace
    >>> space = SearchSpace(digits_model())
    >>> metrics = train_digits(space.fix(), epochs=1)
    >>> sorted(metrics), 0.0 <= metrics["val_acc"] <= 1.0
    (['params', 'test_acc', 'val_acc'], True)
    """
    data = load_digits_split()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(model, data, epochs, batch_size, lr, seed)
    finally:
        torch.set_num_threads(threads)


def _train(model: nn.Module, data: dict[str, tuple[torch.Tensor, torch.Tensor]], epochs: int, batch_size: int,
           lr: float, seed: int) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features**0.5
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)
    x, y = data["train"]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    return {
        "val_acc": _accuracy(model, *data["val"]),
        "test_acc": _accuracy(model, *data["test"]),
        "params": float(sum(p.numel() for p in model.parameters() if p.requires_grad)),
    }
