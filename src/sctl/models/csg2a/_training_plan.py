"""Training loops of CSG²A: minibatches of indices, so no profile is copied once per (cell line, drug) pair."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def training_device(accelerator: str) -> torch.device:
    """Device to train on, from a Lightning-style ``accelerator`` name.

    ``"auto"`` takes a CUDA GPU when there is one, else the CPU; ``"gpu"`` / ``"cuda"`` and ``"mps"`` (Apple)
    insist on that device. MPS is never picked automatically: its support of the sparse PPI prior is partial.

    Examples
    --------
    >>> training_device("cpu")
    device(type='cpu')
    """
    if accelerator not in ACCELERATORS:
        raise ValueError(f"Unknown accelerator {accelerator!r}; choose one of {', '.join(map(repr, ACCELERATORS))}.")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not cuda:
        raise RuntimeError(f"accelerator={accelerator!r} but PyTorch sees no CUDA GPU; use 'auto' or 'cpu'.")
    if accelerator == "mps" and not mps:
        raise RuntimeError("accelerator='mps' but PyTorch sees no MPS device; use 'auto' or 'cpu'.")
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and cuda):
        return torch.device("cuda")
    if accelerator == "mps":
        return torch.device("mps")
    return torch.device("cpu")


@contextmanager
def on_device(modules: Iterable[torch.nn.Module], device: torch.device) -> Iterator[None]:
    """Move ``modules`` to ``device`` for the block and back to the CPU after it, where the model predicts."""
    modules = list(modules)
    for module in modules:
        module.to(device)
    try:
        yield
    finally:
        for module in modules:
            module.to("cpu")


def fit(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    parameters: Iterable[torch.nn.Parameter],
    modules: Iterable[torch.nn.Module],
    n_samples: int,
    *,
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    enable_progress_bar: bool = True,
    description: str = "Training",
    device: torch.device | str = "cpu",
) -> list[float]:
    """Minimise ``loss_fn(indices)`` over shuffled minibatches of ``range(n_samples)`` with Adam.

    Parameters
    ----------
    loss_fn
        Returns the mean loss of the samples whose positions are given (a ``long`` tensor).
    parameters
        Parameters to train.
    modules
        Modules put in training mode (dropout on) during the loop; the others keep their mode.
    n_samples
        Number of training samples (profiles, or (cell line, drug) pairs).
    max_epochs, batch_size, lr, weight_decay
        Passes over the data, minibatch size, Adam learning rate and weight decay.
    seed
        Seed of the shuffling (and of dropout): the same seed gives the same numbers.
    enable_progress_bar
        Show a progress bar over the epochs with the last epoch's loss, as Lightning does for the other models.
    description
        Label of the progress bar.
    device
        Device of the minibatch indices given to ``loss_fn`` (that of its tensors).

    Returns
    -------
    The mean training loss of each epoch.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> y = torch.ones(8)
    >>> history = fit(lambda i: ((w - y[i]) ** 2).mean(), [w], [], 8, max_epochs=2, batch_size=4, lr=0.1,
    ...               weight_decay=0.0, seed=0, enable_progress_bar=False)
    >>> len(history)
    2
    """
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        raise ValueError("Nothing to train: every parameter is frozen.")
    if n_samples < 1:
        raise ValueError("No training sample.")
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(seed))
    modules = list(modules)
    history: list[float] = []
    with torch.random.fork_rng(devices=[]):  # dropout draws from a seeded generator; the caller's RNG is untouched
        torch.manual_seed(int(seed))
        for module in modules:
            module.train()
        try:
            epochs = tqdm(range(int(max_epochs)), desc=description, unit="epoch", disable=not enable_progress_bar)
            for _ in epochs:
                order = torch.randperm(n_samples, generator=generator).to(device)
                history.append(_epoch(loss_fn, optimizer, order, batch_size))
                epochs.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
        finally:
            for module in modules:
                module.eval()
    return history


def _epoch(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    order: torch.Tensor,
    batch_size: int,
) -> float:
    """One pass over ``order`` in minibatches; the mean loss."""
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(batch)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch)
    return total / len(order)
