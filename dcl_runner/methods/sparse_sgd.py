"""SGD for data parameters: only the entries present in the mini-batch move (DP sec. 3.1).

The data-parameters paper (sec. 3.1): "When a class or instance is not present in a mini-batch, we do
not update the momentum buffer associated with the data parameter of the class or the instance", and
weight decay acts "on only those data parameters which participate in a mini-batch" (the authors'
code adds 0.5 * wd * sum over the batch of log(sigma)^2 to the loss, so a class present k times in
the batch is decayed k times; we do the same, inside the optimizer, so the reported loss stays the
training loss).

Before each ``step`` the owner calls ``mark(index)`` with the entries the batch used (class ids or
sample ids, repeats allowed). The update is then, for every present entry e with count c_e:

    d_e   = grad_e + weight_decay * c_e * p_e
    buf_e = momentum * buf_e + d_e            (absent entries: buf and p unchanged)
    p_e   = p_e - lr * buf_e
    p     = clamp(p, lo, hi)                  (every entry of the tensor, present or not)

The clamp is the authors' ``utils.clamp_data_parameters``, called after every step in main_cifar.py and
main_imagenet.py: it projects the *whole* tensor of log(sigma) onto [log 1/20, log 20], so an entry that
starts outside the range (joint curriculum: instance sigma 0.001 < 1/20) is raised to the bound after the
first step whether or not it was in that batch. Momentum buffers are not clamped (neither are the authors').

Only the marked rows are gathered, updated and written back (no ``unique``, no host sync); the clamp is
one element-wise pass over the tensor. Without a ``mark`` the present entries are those with a non-zero
gradient (the authors' rule), each counted once.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

import torch


class SparseSGD(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        clamp: Optional[Tuple[float, float]] = None,
    ):
        if lr < 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"SparseSGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if clamp is not None and not clamp[0] < clamp[1]:
            raise ValueError(f"SparseSGD: clamp bounds {clamp} must be increasing")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, clamp=clamp))
        if sum(len(g["params"]) for g in self.param_groups) != 1:
            raise ValueError("SparseSGD optimises exactly one data-parameter tensor (one per optimizer)")
        self._marked: Optional[torch.Tensor] = None

    @property
    def param(self) -> torch.nn.Parameter:
        return self.param_groups[0]["params"][0]

    def mark(self, index: torch.Tensor) -> None:
        """The entries (first-dimension rows, or flat positions for a 1-D tensor) used by this batch."""
        self._marked = index.reshape(-1)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        group = self.param_groups[0]
        p = self.param
        if p.grad is not None:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if self._marked is None:
                self._dense_step(p, state["momentum_buffer"], group)
            else:
                self._sparse_step(p, state["momentum_buffer"], group, self._marked.to(p.device))
        if group["clamp"] is not None:
            p.data.clamp_(float(group["clamp"][0]), float(group["clamp"][1]))
        self._marked = None
        return loss

    @staticmethod
    def _update(p_rows, buf_rows, grad_rows, counts, group):
        """The rule of the module docstring on gathered rows (before the clamp); returns (new p rows, new buffer rows)."""
        d_p = grad_rows.to(p_rows.dtype)
        if group["weight_decay"]:
            d_p = d_p + group["weight_decay"] * counts * p_rows
        buf_rows = buf_rows * group["momentum"] + d_p
        return p_rows - group["lr"] * buf_rows, buf_rows

    def _sparse_step(self, p, buf, group, marked):
        """Update only the marked entries: O(batch) work besides one count vector, no host sync.

        Repeated entries gather the same values and compute the same result, so writing them back
        with a plain (non-accumulating) index_put is exact.
        """
        flat_p, flat_buf, flat_grad = p.view(-1), buf.view(-1), p.grad.reshape(-1)
        counts = torch.zeros(flat_p.numel(), dtype=p.dtype, device=p.device)
        counts.index_add_(0, marked, torch.ones(marked.numel(), dtype=p.dtype, device=p.device))
        new, new_buf = self._update(flat_p[marked], flat_buf[marked], flat_grad[marked], counts[marked], group)
        flat_buf.index_put_((marked,), new_buf)
        flat_p.index_put_((marked,), new)

    def _dense_step(self, p, buf, group):
        """No ``mark``: the present entries are those with a non-zero gradient (the authors' rule)."""
        present = p.grad != 0
        new, new_buf = self._update(p, buf, p.grad, present.to(p.dtype), group)
        buf.copy_(torch.where(present, new_buf, buf))
        p.copy_(torch.where(present, new, p))
