"""Procedural textures: seeded numpy, uint8 RGB, row 0 = top of the image.

Every surface gets its own non-repeating texture (shapes, letters, grain, stains at the
1-3 cm scale a camera a metre away resolves), so SIFT finds features everywhere. The same
rng stream always draws the same texture.
"""

from __future__ import annotations

import numpy as np


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    import cv2

    return cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def fractal_noise(rng: np.random.Generator, h: int, w: int, base_cells: int = 4, octaves: int = 6,
                  persistence: float = 0.55) -> np.ndarray:
    """(h, w) float noise in about [-1, 1]: a sum of upsampled random grids (value noise)."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base_cells * 2**o
        gh, gw = max(2, int(cells * h / max(h, w)) + 2), max(2, int(cells * w / max(h, w)) + 2)
        out += amp * _resize(rng.uniform(-1, 1, (gh, gw)), h, w)
        total += amp
        amp *= persistence
    return out / total


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _scribble(img: np.ndarray, rng: np.random.Generator, n: int, scale: float, alpha: float = 0.6,
              palette: np.ndarray | None = None, text: bool = True) -> None:
    """Draw n random shapes (and letters) into a float RGB image in place: unique SIFT blobs."""
    import cv2

    h, w = img.shape[:2]
    layer = img.copy()
    for _ in range(n):
        colour = tuple(float(c) for c in (palette[rng.integers(len(palette))] if palette is not None
                                          else rng.uniform(0, 1, 3)))
        kind = rng.integers(5 if text else 4)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = max(2, int(scale * rng.uniform(0.3, 1.0)))
        thick = int(rng.integers(1, max(2, s // 4)))
        if kind == 0:
            cv2.circle(layer, (x, y), s, colour, -1 if rng.random() < 0.5 else thick, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(layer, (x, y), (x + s, y + int(s * rng.uniform(0.3, 1.5))), colour,
                          -1 if rng.random() < 0.5 else thick, cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = x + int(rng.normal(0, 2 * s)), y + int(rng.normal(0, 2 * s))
            cv2.line(layer, (x, y), (x2, y2), colour, thick, cv2.LINE_AA)
        elif kind == 3:
            axes = (s, max(1, int(s * rng.uniform(0.2, 1.0))))
            cv2.ellipse(layer, (x, y), axes, float(rng.uniform(0, 180)), 0, float(rng.uniform(90, 360)),
                        colour, thick, cv2.LINE_AA)
        else:
            word = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(2, 7))))
            _put_text(layer, word, (x, y), int(rng.integers(0, 8)), s / 22.0, colour, thick)
    img[:] = (1 - alpha) * img + alpha * layer


def _put_text(img: np.ndarray, text: str, org, font: int, scale: float, colour, thick: int) -> None:
    """cv2.putText for float images (OpenCV 5 draws text on uint8 only): draw a uint8 coverage
    patch around the text and blend the colour through it."""
    import cv2

    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = thick + 2
    patch = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(patch, text, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    x0, y0 = org[0] - pad, org[1] - th - pad  # org is the text's bottom-left corner, as in cv2
    h, w = img.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(w, x0 + patch.shape[1]), min(h, y0 + patch.shape[0])
    if ax0 >= ax1 or ay0 >= ay1:
        return
    a = patch[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, None].astype(np.float32) / 255.0
    img[ay0:ay1, ax0:ax1] = img[ay0:ay1, ax0:ax1] * (1 - a) + np.asarray(colour, np.float32) * a


def texture_wood(rng: np.random.Generator, h: int, w: int, planks: int = 5, tint=(0.55, 0.36, 0.20),
                 knot_palette=((0.22, 0.13, 0.07), (0.35, 0.22, 0.12), (0.70, 0.52, 0.34), (0.12, 0.08, 0.05))) -> np.ndarray:
    """Planks running along the image width: warped growth rings, per-plank tint, knots."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w, 3), np.float32)
    warp = fractal_noise(rng, h, w, base_cells=3, octaves=5)
    fine = fractal_noise(rng, h, w, base_cells=40, octaves=3)
    edges = np.linspace(0, h, planks + 1).astype(int)
    for p in range(planks):
        y0, y1 = edges[p], edges[p + 1]
        tint_p = np.array(tint) * rng.uniform(0.8, 1.15) + rng.uniform(-0.04, 0.04, 3)
        cy = rng.uniform(-2 * h, 3 * h)
        dist = np.abs(yy[y0:y1] - cy) * rng.uniform(0.8, 1.3) + 60 * warp[y0:y1] + 0.02 * xx[y0:y1]
        rings = 0.5 + 0.5 * np.sin(dist / rng.uniform(4.0, 9.0))
        grain = 0.78 + 0.16 * rings[..., None] + 0.10 * fine[y0:y1, :, None]
        out[y0:y1] = tint_p * grain
        out[y0:min(y1, y0 + 3)] *= 0.45  # seam between planks
    # Knots, stains and scratches at the 1-3 cm scale a camera a metre away resolves.
    _scribble(out, rng, n=int(w * h / 3000), scale=min(h, w) / 40, alpha=0.45,
              palette=np.array(knot_palette),
              text=False)
    return _to_u8(out)


def texture_tiles(rng: np.random.Generator, h: int, w: int, tiles_x: int, tiles_y: int) -> np.ndarray:
    """Glazed tiles, each with its own hand-painted motif, grout lines and crazing noise."""
    out = np.zeros((h, w, 3), np.float32)
    th, tw = h / tiles_y, w / tiles_x
    palette = rng.uniform(0.05, 0.85, (8, 3))
    for j in range(tiles_y):
        for i in range(tiles_x):
            y0, y1, x0, x1 = int(j * th), int((j + 1) * th), int(i * tw), int((i + 1) * tw)
            tile = np.ones((y1 - y0, x1 - x0, 3), np.float32) * (np.array([0.88, 0.86, 0.80]) + rng.uniform(-0.06, 0.04, 3))
            _scribble(tile, rng, n=int(rng.integers(4, 9)), scale=tw / 4, alpha=0.85, palette=palette, text=False)
            out[y0:y1, x0:x1] = tile
    noise = fractal_noise(rng, h, w, base_cells=30, octaves=4)
    out *= (0.93 + 0.07 * noise)[..., None]
    grout = np.array([0.45, 0.43, 0.40])
    g = max(2, int(tw / 30))
    for j in range(tiles_y + 1):
        out[max(0, int(j * th) - g):int(j * th) + g] = grout
    for i in range(tiles_x + 1):
        out[:, max(0, int(i * tw) - g):int(i * tw) + g] = grout
    return _to_u8(out)


def texture_plaster(rng: np.random.Generator, h: int, w: int, colour, marks: int) -> np.ndarray:
    """Painted plaster: blotchy fractal noise plus pinned notes, pictures and scuffs."""
    base = np.array(colour, np.float32)
    n = fractal_noise(rng, h, w, base_cells=8, octaves=7)
    out = base * (0.82 + 0.25 * n)[..., None]
    _scribble(out, rng, n=marks, scale=min(h, w) / 25, alpha=0.75)
    _scribble(out, rng, n=marks * 6, scale=min(h, w) / 60, alpha=0.6)  # smaller notes and scuffs
    return _to_u8(out)


def texture_printed(rng: np.random.Generator, h: int, w: int, base, n: int, text: bool = True) -> np.ndarray:
    """Printed packaging / glaze: a coloured ground covered in random shapes, stripes and letters."""
    out = np.ones((h, w, 3), np.float32) * np.array(base, np.float32)
    stripes = rng.integers(3, 7)
    for _ in range(stripes):
        y0 = int(rng.integers(0, h))
        out[y0:y0 + int(rng.integers(h // 40, h // 8))] = rng.uniform(0, 1, 3)
    _scribble(out, rng, n=n, scale=min(h, w) / 10, alpha=0.9, text=text)
    out *= (0.9 + 0.1 * fractal_noise(rng, h, w, base_cells=20, octaves=3))[..., None]
    return _to_u8(out)


def texture_ceramic(rng: np.random.Generator, h: int, w: int, glaze) -> np.ndarray:
    """Speckled glaze with painted bands and brush marks (u around, v along the profile)."""
    out = np.ones((h, w, 3), np.float32) * np.array(glaze, np.float32)
    out *= (0.85 + 0.15 * fractal_noise(rng, h, w, base_cells=12, octaves=5))[..., None]
    speck = rng.random((h, w)) < 0.01
    out[speck] *= 0.35
    for _ in range(int(rng.integers(2, 5))):
        y0 = int(rng.integers(0, h))
        out[y0:y0 + int(rng.integers(4, h // 12))] = rng.uniform(0.05, 0.9, 3)
    _scribble(out, rng, n=int(w * h / 2500), scale=min(h, w) / 12, alpha=0.8, text=False)
    return _to_u8(out)



def texture_concrete(rng: np.random.Generator, h: int, w: int, tone=(0.55, 0.54, 0.52), marks: int = 200) -> np.ndarray:
    """Poured concrete floor: mottled grey, aggregate specks, cracks, oil stains, a painted line."""
    import cv2

    out = np.array(tone, np.float32) * (0.80 + 0.30 * fractal_noise(rng, h, w, base_cells=6, octaves=7))[..., None]
    speck = rng.random((h, w))
    out[speck < 0.015] *= 0.55
    out[speck > 0.990] = np.minimum(out[speck > 0.990] * 1.45, 1.0)
    for _ in range(int(rng.integers(6, 12))):  # cracks: jittered polylines
        pts = [np.array([rng.uniform(0, w), rng.uniform(0, h)])]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(10, 40))):
            heading += rng.normal(0, 0.5)
            pts.append(pts[-1] + rng.uniform(8, 30) * np.array([np.cos(heading), np.sin(heading)]))
        cv2.polylines(out, [np.array(pts, np.int32)], False, (0.25, 0.25, 0.24), int(rng.integers(1, 3)), cv2.LINE_AA)
    stain = np.clip(fractal_noise(rng, h, w, base_cells=5, octaves=5) - 0.25, 0, 1) * 1.6
    out *= (1 - 0.45 * stain)[..., None]
    y0 = int(rng.integers(h // 6, h // 3))  # a painted safety line, worn
    band = out[y0:y0 + h // 25]
    wear = (fractal_noise(rng, band.shape[0], w, base_cells=40, octaves=3) > -0.15)[..., None]
    out[y0:y0 + h // 25] = np.where(wear, np.array([0.85, 0.70, 0.12], np.float32), band)
    _scribble(out, rng, n=marks, scale=min(h, w) / 30, alpha=0.5,
              palette=np.array([[0.2, 0.2, 0.2], [0.7, 0.68, 0.62], [0.35, 0.3, 0.25], [0.6, 0.2, 0.15], [0.15, 0.3, 0.6]]))
    return _to_u8(out)


def texture_metal(rng: np.random.Generator, h: int, w: int, colour, marks: int = 60) -> np.ndarray:
    """Painted or brushed metal: streaks along the image width, scratches, chips and labels."""
    streak = _resize(rng.uniform(-1, 1, (max(2, h // 3), 6)), h, w)  # long along x, fine across y
    out = np.array(colour, np.float32) * (0.85 + 0.10 * streak + 0.10 * fractal_noise(rng, h, w, 10, 5))[..., None]
    _scribble(out, rng, n=marks, scale=min(h, w) / 12, alpha=0.7,
              palette=np.array([[0.75, 0.75, 0.78], [0.2, 0.2, 0.22], [0.55, 0.3, 0.15], [0.9, 0.85, 0.2], [0.9, 0.9, 0.9]]))
    return _to_u8(out)


def texture_blockwall(rng: np.random.Generator, h: int, w: int, colour, rows: int, cols: int, marks: int) -> np.ndarray:
    """Painted cinder-block wall: running bond, per-block tint and pores, mortar joints, posters and scuffs."""
    out = np.zeros((h, w, 3), np.float32)
    bh, bw = h / rows, w / cols
    pores = fractal_noise(rng, h, w, base_cells=60, octaves=3)
    for j in range(rows):
        shift = 0.5 * bw * (j % 2)
        for i in range(-1, cols + 1):
            x0, x1 = int(max(0, i * bw + shift)), int(min(w, (i + 1) * bw + shift))
            y0, y1 = int(j * bh), int((j + 1) * bh)
            if x1 <= x0:
                continue
            out[y0:y1, x0:x1] = np.array(colour, np.float32) * rng.uniform(0.88, 1.08) + rng.uniform(-0.03, 0.03, 3)
            g = max(2, int(bh / 14))
            out[y0:y0 + g, x0:x1] = 0.62
            out[y0:y1, x0:x0 + g] = 0.62
    out *= (0.92 + 0.10 * pores)[..., None]
    _scribble(out, rng, n=marks, scale=min(h, w) / 18, alpha=0.85)
    _scribble(out, rng, n=marks * 4, scale=min(h, w) / 50, alpha=0.6)
    return _to_u8(out)


def texture_pegboard(rng: np.random.Generator, h: int, w: int, pitch_px: int, tools: int) -> np.ndarray:
    """Hardboard pegboard: hole grid, fibre mottling, and hung tools / labels that make it unique."""
    import cv2

    out = np.array([0.62, 0.47, 0.32], np.float32) * (0.85 + 0.2 * fractal_noise(rng, h, w, 16, 6))[..., None]
    for y in range(pitch_px // 2, h, pitch_px):
        for x in range(pitch_px // 2, w, pitch_px):
            cv2.circle(out, (x, y), max(1, pitch_px // 6), (0.12, 0.09, 0.06), -1, cv2.LINE_AA)
    palette = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.12], [0.85, 0.7, 0.1], [0.55, 0.55, 0.58], [0.1, 0.35, 0.7]])
    _scribble(out, rng, n=tools, scale=min(h, w) / 8, alpha=0.95, palette=palette)
    _scribble(out, rng, n=tools * 5, scale=min(h, w) / 30, alpha=0.8)
    return _to_u8(out)


def workshop_marks(img: np.ndarray, rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """A worn work surface: paint drips and splats, pencil lines and notes, scuffs, over img (uint8)."""
    out = img.astype(np.float32) / 255.0
    paint = np.array([[0.85, 0.2, 0.1], [0.1, 0.35, 0.75], [0.95, 0.8, 0.15], [0.15, 0.15, 0.15], [0.95, 0.95, 0.92],
                      [0.35, 0.6, 0.25], [0.45, 0.3, 0.18]])
    _scribble(out, rng, n=n, scale=scale, alpha=0.75, palette=paint)
    _scribble(out, rng, n=n * 2, scale=scale / 3, alpha=0.7, palette=np.array([[0.2, 0.2, 0.22], [0.45, 0.4, 0.35]]))
    return _to_u8(out)


def printed_marker(dictionary: str, marker_id: int, marker_px: int, border_px: int, rng: np.random.Generator) -> np.ndarray:
    """An OpenCV ArUco marker printed on matte paper: ink a little lighter than black, paper a
    little darker than white, a faint paper grain; the white border is the quiet zone."""
    import cv2

    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary))
    ink = cv2.aruco.generateImageMarker(d, marker_id, marker_px, borderBits=1).astype(np.float32) / 255.0
    page = np.ones((marker_px + 2 * border_px,) * 2, np.float32)
    page[border_px:border_px + marker_px, border_px:border_px + marker_px] = ink
    shade = 0.07 + 0.86 * page + 0.015 * fractal_noise(rng, *page.shape, base_cells=8, octaves=4)
    return _to_u8(np.repeat(shade[..., None], 3, axis=2) * np.array([1.0, 0.99, 0.96], np.float32))
