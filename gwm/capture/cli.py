"""`gwm capture ...`: video / images / COLMAP / nerfstudio -> posed nerfstudio dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Capture: frames + camera poses (pycolmap SfM) as a nerfstudio dataset.", no_args_is_help=True)


def _known_distance(text: str | None):
    from gwm.capture.config import CaptureError, KnownDistance

    if text is None:
        return None
    parts = text.split(",")
    try:
        return KnownDistance(parts[0].strip(), parts[1].strip(), float(parts[2]))
    except (IndexError, ValueError) as e:
        raise CaptureError(f"--known-distance {text!r}: write FRAME_A,FRAME_B,METRES, e.g. "
                           "frame_00010.png,frame_00090.png,0.50") from e


@app.command("run")
def run(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="video file, image folder, COLMAP model folder or nerfstudio dataset"),
    out: Path = typer.Argument(..., metavar="OUT", help="output folder (nerfstudio layout)"),
    max_frames: int = typer.Option(120, help="video: keep at most this many frames (evenly spaced, sharpest per slot)"),
    max_size: Optional[int] = typer.Option(None, help="downscale frames so the longer side is at most this (px)"),
    camera_model: str = typer.Option("OPENCV", help="OPENCV or PINHOLE (one camera shared by all frames)"),
    matcher: str = typer.Option("auto", help="auto | exhaustive | sequential"),
    focal: Optional[float] = typer.Option(None, help="known focal length in pixels at the output size"),
    up: str = typer.Option("plane", help="gravity up from: plane (table), orbit (cameras), none"),
    known_distance: Optional[str] = typer.Option(None, help="metric scale: FRAME_A,FRAME_B,METRES between two camera centres"),
    reference: Optional[Path] = typer.Option(None, help="known poses (ground_truth.json / transforms.json): align to them and report pose error"),
    colmap_images: Optional[Path] = typer.Option(None, help="images of a COLMAP model input (default: images/ beside it)"),
    min_sharpness: float = typer.Option(15.0, help="variance of Laplacian below which a frame is blurred"),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, help="replace OUT if it exists (only after the new capture succeeds)"),
) -> None:
    """Pick frames, run SfM, write OUT/{images, transforms.json, sparse_pc.ply, capture_report.json}."""
    from gwm.capture.config import CaptureConfig, CaptureError
    from gwm.capture.pipeline import run_capture

    try:
        config = CaptureConfig(max_frames=max_frames, max_image_size=max_size, camera_model=camera_model.upper(),
                               matcher=matcher, focal_length_px=focal, up=up, known_distance=_known_distance(known_distance),
                               min_sharpness=min_sharpness, seed=seed)
        result = run_capture(input_path, out, config, reference=reference, images_dir=colmap_images, overwrite=overwrite)
    except CaptureError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(result.summary())


@app.command("evaluate")
def evaluate(
    capture: Path = typer.Argument(..., help="a capture output folder (transforms.json)"),
    reference: Path = typer.Argument(..., help="known poses: ground_truth.json or transforms.json"),
) -> None:
    """Camera pose error of a capture against reference poses, after similarity alignment."""
    from gwm.capture.config import CaptureError
    from gwm.capture.pipeline import evaluate_capture

    try:
        summary = evaluate_capture(capture, reference)
    except CaptureError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(summary, indent=2))
