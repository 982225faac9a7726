"""Numba kernels of the CPU tile rasterizer: tile binning, front-to-back compositing, backward.

Semantics follow gsplat 1.5's CUDA kernels (RasterizeToPixels3DGSFwd/Bwd.cu) so the two
backends render the same image:
  - pixel centres at (x + 0.5, y + 0.5); sigma = 0.5 (a dx^2 + c dy^2) + b dx dy;
  - alpha = min(0.999, opacity * exp(-sigma)); skip when sigma < 0 or alpha < 1/255;
  - a pixel stops before the Gaussian that would take its transmittance to <= 1e-4;
  - tiles are bound with gsplat's opacity-aware radius min(3.33, sqrt(2 ln(255 opacity))) sigma.

Every array is float64 (callers convert), so each kernel compiles exactly once and the
backward's back-to-front recomputation T_i = T_{i+1} / (1 - alpha_i) (as in 3DGS) is accurate.
Kernels are serial and release the GIL; cpu_backend runs the per-tile kernels on a thread
pool, each thread on its own list of tiles. Threads write only to their tiles' pixels and
to one gradient row per (tile, Gaussian) intersection; `sum_rows` then adds rows per
Gaussian, so nothing is ever written by two threads. (Serial kernels + threads compile in
a few seconds; numba's parallel=True took about a minute here.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4
SIGMA_EXTEND = 3.33  # gsplat's tile radius cap, in standard deviations
GRAD_ROW = 6  # per-intersection gradient row: [d mx, d my, d a, d b, d c, d opacity, d features...]


@njit(cache=True, nogil=True)
def tile_bounds(means2d, conics, opacities, valid, width, height, tile_size):
    """Per (image, Gaussian): tile rectangle and the pixel box where alpha can reach 1/255.

    means2d (I,N,2), conics (I,N,3) [a, b, c] of the inverse 2D covariance, opacities (I,N),
    valid (I,N) bool (depth inside near/far). Returns rect (I,N,4) int32 tiles [tx0, ty0, tx1, ty1)
    and box (I,N,4) int32 pixels [x0, y0, x1, y1), both clipped to the image (empty when culled).
    """
    num_images, n = opacities.shape
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    rect = np.zeros((num_images, n, 4), np.int32)
    box = np.zeros((num_images, n, 4), np.int32)
    for i in range(num_images):
        for g in range(n):
            if not valid[i, g]:
                continue
            op = opacities[i, g]
            if not (op >= ALPHA_THRESHOLD):  # also drops NaN
                continue
            a = conics[i, g, 0]
            b = conics[i, g, 1]
            c = conics[i, g, 2]
            det = a * c - b * b
            if not (det > 0.0) or not (a > 0.0) or not (c > 0.0):
                continue
            sxx = c / det  # the dilated 2D covariance's diagonal
            syy = a / det
            full = math.sqrt(2.0 * math.log(op / ALPHA_THRESHOLD))
            extend = min(SIGMA_EXTEND, full)
            rx = math.ceil(extend * math.sqrt(sxx))
            ry = math.ceil(extend * math.sqrt(syy))
            mx = means2d[i, g, 0]
            my = means2d[i, g, 1]
            if not (math.isfinite(rx) and math.isfinite(ry) and math.isfinite(mx) and math.isfinite(my)):
                continue
            if rx <= 0.0 and ry <= 0.0:
                continue
            if mx + rx <= 0.0 or mx - rx >= width or my + ry <= 0.0 or my - ry >= height:
                continue
            tx0 = min(max(math.floor((mx - rx) / tile_size), 0.0), tiles_x)
            ty0 = min(max(math.floor((my - ry) / tile_size), 0.0), tiles_y)
            tx1 = min(max(math.ceil((mx + rx) / tile_size), 0.0), tiles_x)
            ty1 = min(max(math.ceil((my + ry) / tile_size), 0.0), tiles_y)
            # Pixels where alpha >= 1/255 lie within full * sigma per axis (max |dx| on the
            # level set sigma = s is sqrt(2 s Sxx)); other pixels of a bound tile add nothing.
            # The 1e-3 px margin only guards rounding: the alpha test still decides.
            hx = full * math.sqrt(sxx) + 1e-3
            hy = full * math.sqrt(syy) + 1e-3
            bx0 = min(max(math.ceil(mx - hx - 0.5), 0.0), width)
            by0 = min(max(math.ceil(my - hy - 0.5), 0.0), height)
            bx1 = min(max(math.floor(mx + hx - 0.5) + 1.0, 0.0), width)
            by1 = min(max(math.floor(my + hy - 0.5) + 1.0, 0.0), height)
            # Bind only tiles that hold pixels of the box (tiles outside it would add nothing).
            tx0 = max(tx0, bx0 // tile_size)
            ty0 = max(ty0, by0 // tile_size)
            tx1 = min(tx1, (bx1 - 1.0) // tile_size + 1.0)
            ty1 = min(ty1, (by1 - 1.0) // tile_size + 1.0)
            if bx1 <= bx0 or by1 <= by0 or tx1 <= tx0 or ty1 <= ty0:
                continue  # no pixel centre of the image can reach alpha 1/255
            rect[i, g, 0] = np.int32(tx0)
            rect[i, g, 1] = np.int32(ty0)
            rect[i, g, 2] = np.int32(tx1)
            rect[i, g, 3] = np.int32(ty1)
            box[i, g, 0] = np.int32(bx0)
            box[i, g, 1] = np.int32(by0)
            box[i, g, 2] = np.int32(bx1)
            box[i, g, 3] = np.int32(by1)
    return rect, box


@njit(cache=True, nogil=True)
def bin_tiles(rect, order, tiles_x, tiles_y):
    """Per-tile Gaussian lists, front to back: a counting sort of the depth-sorted ids.

    order (I,N) sorts each image's Gaussians by depth. Returns offsets (I*T+1,) int64 into
    ids (n_isects,) int32; the list of tile t of image i is ids[offsets[i*T+t]:offsets[i*T+t+1]].
    """
    num_images, n = order.shape
    num_tiles = tiles_x * tiles_y
    counts = np.zeros(num_images * num_tiles + 1, np.int64)
    for i in range(num_images):
        base = i * num_tiles + 1
        for g in range(n):
            for ty in range(rect[i, g, 1], rect[i, g, 3]):
                for tx in range(rect[i, g, 0], rect[i, g, 2]):
                    counts[base + ty * tiles_x + tx] += 1
    offsets = np.cumsum(counts)
    ids = np.empty(offsets[-1], np.int32)
    cursor = offsets[:-1].copy()
    for i in range(num_images):
        base = i * num_tiles
        for j in range(n):
            g = order[i, j]
            for ty in range(rect[i, g, 1], rect[i, g, 3]):
                for tx in range(rect[i, g, 0], rect[i, g, 2]):
                    t = base + ty * tiles_x + tx
                    ids[cursor[t]] = g
                    cursor[t] += 1
    return offsets, ids


@njit(cache=True, nogil=True)
def rasterize_forward(jobs, means2d, conics, features, opacities, box, offsets, ids,
                      width, height, tile_size, image, t_final, last):
    """Front-to-back compositing of the tiles listed in jobs (flat image * T + tile indices).

    features (I,N,C): colours and depth, composited alike. Writes those tiles' pixels of
    image (I,H,W,C), final transmittance t_final (I,H,W) and last (I,H,W) int32: how many
    entries of the pixel's tile list were consumed (index of its last contributor + 1).
    """
    channels = features.shape[2]
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    num_tiles = tiles_x * tiles_y
    block = tile_size * tile_size
    trans = np.empty(block, np.float64)
    acc = np.empty((block, channels), np.float64)
    count = np.empty(block, np.int32)
    done = np.empty(block, np.bool_)
    for job in jobs:
        i = job // num_tiles
        t = job - i * num_tiles
        ty = t // tiles_x
        tx = t - ty * tiles_x
        x0 = tx * tile_size
        y0 = ty * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        start = offsets[job]
        end = offsets[job + 1]
        trans[:] = 1.0
        acc[:] = 0.0
        count[:] = 0
        done[:] = False
        num_done = 0
        num_pixels = (x1 - x0) * (y1 - y0)
        for k in range(start, end):
            g = ids[k]
            mx = means2d[i, g, 0]
            my = means2d[i, g, 1]
            a = conics[i, g, 0]
            b = conics[i, g, 1]
            c = conics[i, g, 2]
            op = opacities[i, g]
            # alpha < 1/255 wherever sigma > ln(255 op): skip the exp there (the margin keeps
            # the decision to the exact alpha test below)
            sigma_cut = math.log(op / ALPHA_THRESHOLD) + 1e-6
            px0, py0 = max(x0, box[i, g, 0]), max(y0, box[i, g, 1])
            px1, py1 = min(x1, box[i, g, 2]), min(y1, box[i, g, 3])
            for py in range(py0, py1):
                dy = my - (py + 0.5)
                row = (py - y0) * tile_size - x0
                for px in range(px0, px1):
                    p = row + px
                    if done[p]:
                        continue
                    dx = mx - (px + 0.5)
                    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                    if sigma < 0.0 or sigma > sigma_cut:
                        continue
                    alpha = min(MAX_ALPHA, op * math.exp(-sigma))
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    next_t = trans[p] * (1.0 - alpha)
                    if next_t <= MIN_TRANSMITTANCE:
                        done[p] = True
                        num_done += 1
                        continue
                    w = alpha * trans[p]
                    for ch in range(channels):
                        acc[p, ch] += w * features[i, g, ch]
                    trans[p] = next_t
                    count[p] = k - start + 1
            if num_done == num_pixels:
                break
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * tile_size + (px - x0)
                for ch in range(channels):
                    image[i, py, px, ch] = acc[p, ch]
                t_final[i, py, px] = trans[p]
                last[i, py, px] = count[p]


@njit(cache=True, nogil=True)
def rasterize_backward(jobs, means2d, conics, features, opacities, box, offsets, ids,
                       width, height, tile_size, t_final, last, grad_image, grad_alpha, rows):
    """Per-intersection gradients for the tiles in jobs, written to rows (n_isects, 6 + C).

    grad_image (I,H,W,C) and grad_alpha (I,H,W) are dL/d(image) and dL/d(alpha = 1 - T_final).
    Walks each pixel's contributors back to front with gsplat's backward formulas.
    """
    channels = features.shape[2]
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    num_tiles = tiles_x * tiles_y
    block = tile_size * tile_size
    trans = np.empty(block, np.float64)
    tfin = np.empty(block, np.float64)
    count = np.zeros(block, np.int32)
    buffer = np.empty((block, channels), np.float64)
    g_img = np.empty((block, channels), np.float64)
    g_a = np.empty(block, np.float64)
    v_feat = np.empty(channels, np.float64)
    for job in jobs:
        i = job // num_tiles
        t = job - i * num_tiles
        ty = t // tiles_x
        tx = t - ty * tiles_x
        x0 = tx * tile_size
        y0 = ty * tile_size
        x1 = min(x0 + tile_size, width)
        y1 = min(y0 + tile_size, height)
        start = offsets[job]
        if offsets[job + 1] == start:
            continue
        buffer[:] = 0.0
        count[:] = 0
        max_count = 0
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * tile_size + (px - x0)
                trans[p] = t_final[i, py, px]
                tfin[p] = t_final[i, py, px]
                count[p] = last[i, py, px]
                max_count = max(max_count, count[p])
                g_a[p] = grad_alpha[i, py, px]
                for ch in range(channels):
                    g_img[p, ch] = grad_image[i, py, px, ch]
        for k in range(start + max_count - 1, start - 1, -1):
            g = ids[k]
            mx = means2d[i, g, 0]
            my = means2d[i, g, 1]
            a = conics[i, g, 0]
            b = conics[i, g, 1]
            c = conics[i, g, 2]
            op = opacities[i, g]
            sigma_cut = math.log(op / ALPHA_THRESHOLD) + 1e-6  # as in the forward
            px0, py0 = max(x0, box[i, g, 0]), max(y0, box[i, g, 1])
            px1, py1 = min(x1, box[i, g, 2]), min(y1, box[i, g, 3])
            v_mx = 0.0
            v_my = 0.0
            v_a = 0.0
            v_b = 0.0
            v_c = 0.0
            v_op = 0.0
            v_feat[:] = 0.0
            for py in range(py0, py1):
                dy = my - (py + 0.5)
                row = (py - y0) * tile_size - x0
                for px in range(px0, px1):
                    p = row + px
                    if k - start >= count[p]:
                        continue
                    dx = mx - (px + 0.5)
                    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                    if sigma < 0.0 or sigma > sigma_cut:
                        continue
                    vis = math.exp(-sigma)
                    alpha = min(MAX_ALPHA, op * vis)
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    ra = 1.0 / (1.0 - alpha)
                    tp = trans[p] * ra
                    trans[p] = tp
                    fac = alpha * tp
                    v_alpha = tfin[p] * ra * g_a[p]
                    for ch in range(channels):
                        f = features[i, g, ch]
                        v_feat[ch] += fac * g_img[p, ch]
                        v_alpha += (f * tp - buffer[p, ch] * ra) * g_img[p, ch]
                        buffer[p, ch] += f * fac
                    if op * vis <= MAX_ALPHA:
                        v_sigma = -op * vis * v_alpha
                        v_a += 0.5 * v_sigma * dx * dx
                        v_b += v_sigma * dx * dy
                        v_c += 0.5 * v_sigma * dy * dy
                        v_mx += v_sigma * (a * dx + b * dy)
                        v_my += v_sigma * (b * dx + c * dy)
                        v_op += vis * v_alpha
            rows[k, 0] = v_mx
            rows[k, 1] = v_my
            rows[k, 2] = v_a
            rows[k, 3] = v_b
            rows[k, 4] = v_c
            rows[k, 5] = v_op
            for ch in range(channels):
                rows[k, GRAD_ROW + ch] = v_feat[ch]


@njit(cache=True, nogil=True)
def sum_rows(rows, offsets, ids, num_images, n, num_tiles):
    """Add intersection rows per (image, Gaussian) -> (I, N, 6 + C)."""
    out = np.zeros((num_images, n, rows.shape[1]), np.float64)
    for i in range(num_images):
        for k in range(offsets[i * num_tiles], offsets[(i + 1) * num_tiles]):
            g = ids[k]
            for j in range(rows.shape[1]):
                out[i, g, j] += rows[k, j]
    return out
