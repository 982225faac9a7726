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


def _known_length(views: list[str] | None, metres: float | None):
    from gwm.capture.config import CaptureError, KnownLength, LengthView

    if not views and metres is None:
        return None
    if not views or metres is None:
        raise CaptureError("a known length needs both --length-view (2 or more) and --length-metres")
    parsed = []
    for text in views:
        try:
            frame, a, b = text.rsplit(":", 2)
            pa = tuple(float(v) for v in a.split(","))
            pb = tuple(float(v) for v in b.split(","))
            if len(pa) != 2 or len(pb) != 2 or not frame:
                raise ValueError
        except ValueError as e:
            raise CaptureError(f"--length-view {text!r}: write FRAME:XA,YA:XB,YB (pixels, x right, y down), e.g. "
                               "frame_012.png:120.5,88:310,92") from e
        parsed.append(LengthView(frame, pa, pb))
    return KnownLength(tuple(parsed), metres)


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
    marker_size: Optional[float] = typer.Option(None, help="metric cue: side of a printed ArUco marker on the table, metres (black square edge)"),
    marker_dictionary: str = typer.Option("DICT_4X4_50", help="the marker's OpenCV dictionary"),
    marker_id: Optional[int] = typer.Option(None, help="the marker's id (default: the id seen in most frames)"),
    length_view: Optional[list[str]] = typer.Option(None, help="metric cue: FRAME:XA,YA:XB,YB, the two ends of a known length in one frame (repeat for 2+ frames)"),
    length_metres: Optional[float] = typer.Option(None, help="the known length's metres (with --length-view)"),
    table_width: Optional[float] = typer.Option(None, help="metric cue: measured width (longer side) of the support surface, metres"),
    table_depth: Optional[float] = typer.Option(None, help="metric cue: measured depth (shorter side) of the support surface, metres"),
    known_distance: Optional[str] = typer.Option(None, help="metric cue: FRAME_A,FRAME_B,METRES between two camera centres"),
    metric_input: bool = typer.Option(False, help="metric cue: a nerfstudio input's poses are metres (phone AR export)"),
    input_up: str = typer.Option("+y", help="up axis of a --metric-input's world: +y (ARKit/ARCore), +z, none"),
    rerun_sfm: bool = typer.Option(False, help="nerfstudio input: re-pose its images by SfM (its poses then give the metric frame and are checked)"),
    keep_outliers: bool = typer.Option(False, help="keep cameras whose registration is inconsistent (default: left out)"),
    reference: Optional[Path] = typer.Option(None, help="known poses (ground_truth.json / transforms.json): align to them and report pose error (benchmarks)"),
    colmap_images: Optional[Path] = typer.Option(None, help="images of a COLMAP model input (default: images/ beside it)"),
    min_sharpness: float = typer.Option(15.0, help="variance of Laplacian below which a frame is blurred"),
    min_relative_sharpness: float = typer.Option(0.5, help="drop a frame below this fraction of its reference sharpness (video: neighbours; stills: the folder median)"),
    seed: int = typer.Option(0),
    overwrite: bool = typer.Option(False, help="replace OUT if it exists (only after the new capture succeeds)"),
) -> None:
    """Pick frames, run SfM, write OUT/{images, transforms.json, sparse_pc.ply, capture_report.json}."""
    from gwm.capture.config import CaptureConfig, CaptureError
    from gwm.capture.pipeline import run_capture

    try:
        config = CaptureConfig(max_frames=max_frames, max_image_size=max_size, camera_model=camera_model.upper(),
                               matcher=matcher, focal_length_px=focal, up=up, known_distance=_known_distance(known_distance),
                               min_sharpness=min_sharpness, min_relative_sharpness=min_relative_sharpness, seed=seed,
                               marker_size_m=marker_size, marker_dictionary=marker_dictionary, marker_id=marker_id,
                               known_length=_known_length(length_view, length_metres), table_width_m=table_width,
                               table_depth_m=table_depth, metric_input=metric_input, input_up=input_up,
                               rerun_sfm=rerun_sfm, drop_outlier_cameras=not keep_outliers)
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
