"""CPU backend: torch projection (autograd) + numba tile rasterizer with a hand-written backward."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from gwm.render import cpu_kernels
from gwm.render.projection import ProjectedGaussians

TILE_SIZE = 16


def _f64(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _pool(num_threads: int, pid: int) -> ThreadPoolExecutor:
    """One pool per process: a forked child (e.g. a DataLoader worker) must not reuse the
    parent's pool, whose threads do not exist in the child."""
    return ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="gwm-raster")


def _run_tiles(kernel, offsets: np.ndarray, *args) -> None:
    """Run kernel(jobs, *args) over all non-empty tiles on torch.get_num_threads() threads.

    Tiles are dealt in snake order of decreasing intersection count into 4 similar chunks
    per thread; the pool hands chunks out as threads free up (kernels release the GIL).
    """
    cost = np.diff(offsets)
    busy = np.flatnonzero(cost).astype(np.int64)
    if busy.size == 0:
        return
    threads = max(1, min(torch.get_num_threads(), busy.size // 16))
    if threads == 1:
        kernel(busy, *args)
        return
    chunks = 4 * threads
    by_cost = busy[np.argsort(-cost[busy], kind="stable")]
    lane = np.arange(by_cost.size) % (2 * chunks)
    lane = np.where(lane < chunks, lane, 2 * chunks - 1 - lane)  # 0, 1, .., c-1, c-1, .., 0, 0, 1, ..
    pool = _pool(threads, os.getpid())
    futures = [pool.submit(kernel, np.ascontiguousarray(by_cost[lane == j]), *args) for j in range(chunks)]
    for f in futures:
        f.result()


class RasterizeToPixels(torch.autograd.Function):
    """(means2d, conics, features, opacities) per image -> composited features and alpha.

    means2d (I,N,2), conics (I,N,3), features (I,N,C), opacities (I,N); depths (I,N) only
    order the Gaussians and valid (I,N) culls them (neither is differentiated).
    Returns image (I,H,W,C) = sum_i f_i alpha_i T_i and alpha (I,H,W,1) = 1 - T_final.
    """

    @staticmethod
    def forward(ctx, means2d, conics, features, opacities, depths, valid, width: int, height: int,
                tile_size: int = TILE_SIZE):
        if not features.dtype.is_floating_point:
            raise TypeError(f"rasterize: splat tensors must be floating point, got {features.dtype}")
        m2d, con, feat, opac = (_f64(x) for x in (means2d, conics, features, opacities))
        num_images, n, channels = feat.shape
        rect, box = cpu_kernels.tile_bounds(m2d, con, opac, valid.detach().cpu().numpy(),
                                                    width, height, tile_size)
        order = np.argsort(depths.detach().cpu().numpy(), axis=1, kind="stable")  # front to back
        tiles_x = (width + tile_size - 1) // tile_size
        tiles_y = (height + tile_size - 1) // tile_size
        offsets, ids = cpu_kernels.bin_tiles(rect, order, tiles_x, tiles_y)
        image = np.zeros((num_images, height, width, channels), np.float64)
        t_final = np.ones((num_images, height, width), np.float64)
        last = np.zeros((num_images, height, width), np.int32)
        _run_tiles(cpu_kernels.rasterize_forward, offsets, m2d, con, feat, opac, box, offsets, ids,
                   width, height, tile_size, image, t_final, last)
        ctx.state = (m2d, con, feat, opac, box, offsets, ids, t_final, last, width, height, tile_size)
        ctx.meta = (features.dtype, features.device)
        dtype, device = ctx.meta
        alpha = torch.from_numpy(1.0 - t_final)[..., None]
        return torch.from_numpy(image).to(device, dtype), alpha.to(device, dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_image, grad_alpha):
        m2d, con, feat, opac, box, offsets, ids, t_final, last, width, height, tile_size = ctx.state
        dtype, device = ctx.meta
        num_images, n, channels = feat.shape
        rows = np.zeros((ids.shape[0], cpu_kernels.GRAD_ROW + channels), np.float64)
        _run_tiles(cpu_kernels.rasterize_backward, offsets, m2d, con, feat, opac, box, offsets, ids,
                   width, height, tile_size, t_final, last, _f64(grad_image), _f64(grad_alpha[..., 0]), rows)
        num_tiles = (offsets.shape[0] - 1) // max(num_images, 1)
        grads = torch.from_numpy(cpu_kernels.sum_rows(rows, offsets, ids, num_images, n, num_tiles))
        grads = grads.to(device, dtype)  # (I, N, 6 + C)
        return grads[..., 0:2], grads[..., 2:5], grads[..., 6:], grads[..., 5], None, None, None, None, None


def rasterize_projected(proj: ProjectedGaussians, width: int, height: int, tile_size: int = TILE_SIZE):
    """Composite projected Gaussians; returns rgb (B,H,W,3), alpha (B,H,W,1), alpha-weighted z (B,H,W,1)."""
    features = torch.cat([proj.colors, proj.depths[..., None]], dim=-1)  # (B, N, 4): RGB + z
    image, alpha = RasterizeToPixels.apply(
        proj.means2d, proj.conics, features, proj.opacities, proj.depths, proj.valid, width, height, tile_size
    )
    return image[..., :3], alpha, image[..., 3:]
