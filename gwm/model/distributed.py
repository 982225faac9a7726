"""Data-parallel randomness: one random stream shared by every rank, each rank keeping its rows.

Under DistributedDataParallel every rank runs the same torch.Generator from the same seed and draws
the random numbers of the *global* batch (batch indices, noise, ...), then keeps its rows
[r*B/W, (r+1)*B/W). The ranks' rows together are exactly what one process draws for the global batch
and the streams never diverge, so W processes train like one process with the global batch (up to the
float summation order of the gradient all-reduce). With W = 1 the draws are those of plain torch calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ShardedGenerator:
    """A generator shared by all ranks, and which rows of a global batch belong to this rank."""

    generator: torch.Generator
    rank: int = 0
    world_size: int = 1

    def rows(self, local_batch: int) -> slice:
        """This rank's rows of a global batch of local_batch * world_size."""
        return slice(self.rank * local_batch, (self.rank + 1) * local_batch)


def _draw(fn, shape, generator, **kw) -> torch.Tensor:
    if not isinstance(generator, ShardedGenerator):
        return fn(shape, generator=generator, **kw)
    b = shape[0]  # this rank's batch; draw the global one so the shared stream advances identically
    full = fn((b * generator.world_size, *shape[1:]), generator=generator.generator, **kw)
    return full[generator.rows(b)]


def batch_randn(shape, generator: torch.Generator | ShardedGenerator | None, **kw) -> torch.Tensor:
    """torch.randn(shape, ...) for a tensor whose first dimension is the (local) batch."""
    return _draw(torch.randn, tuple(shape), generator, **kw)


def batch_rand(shape, generator: torch.Generator | ShardedGenerator | None, **kw) -> torch.Tensor:
    """torch.rand(shape, ...) for a tensor whose first dimension is the (local) batch."""
    return _draw(torch.rand, tuple(shape), generator, **kw)


__all__ = ["ShardedGenerator", "batch_rand", "batch_randn"]
