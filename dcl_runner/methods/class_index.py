"""Training indices grouped by class, for samplers that draw a class first and then one of its images uniformly
(BBN's reversed sampler, Hybrid-SC's class-balanced CE batch)."""
from __future__ import annotations

from typing import Optional

import torch


class ClassIndex:
    """``members``: the training indices sorted by class; ``starts`` / ``sizes``: each class's first position there
    and its image count."""

    def __init__(self, targets: torch.Tensor, num_classes: int) -> None:
        targets = targets.long()
        self.members = torch.argsort(targets, stable=True)
        self.sizes = torch.bincount(targets, minlength=num_classes)
        self.starts = torch.cumsum(self.sizes, 0) - self.sizes

    def draw(self, classes: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        """One training index of each class in ``classes``, uniformly within the class."""
        within = (torch.rand(len(classes), generator=generator, device=self.members.device) * self.sizes[classes]).long()
        return self.members[self.starts[classes] + torch.minimum(within, self.sizes[classes] - 1)]
