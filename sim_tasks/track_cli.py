"""`gwm track SCENE FRAMES --cameras CAMERAS.json --out DIR`: keep the simulated scene in sync with a
recorded camera stream by visual forces (gwm.track) and write what it tracked."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Track a recorded camera stream with the scene's physics twin (visual forces).",
                  invoke_without_command=True, no_args_is_help=True,
                  subcommand_metavar="")  # one command, no sub-commands: no "COMMAND [ARGS]" in the usage


@app.callback(invoke_without_command=True, context_settings={"allow_interspersed_args": True})
def track(
    scene_usd: Path = typer.Argument(..., help="Scene USD/USDZ written by 'gwm export usd'"),
    frames: Path = typer.Argument(..., help="Folder with one image folder (<camera>/000000.png ...) or video "
                                           "(<camera>.mp4) per camera"),
    cameras: Path = typer.Option(..., help="JSON with fps and the cameras' intrinsics and fixed poses "
                                          "({\"fps\": 30, \"cameras\": [CameraSpec dicts]}, OpenCV axes)"),
    out: Path = typer.Option(..., help="Output folder: dataset/, overlay.mp4, summary.json"),
    fps: float = typer.Option(None, help="Frame rate (default: the cameras file's)"),
    joints: Path = typer.Option(None, help="The robot's joint positions per frame (.csv or .npy, one row per frame: "
                                            "7 arm joints in rad, 2 fingers in m): the twin's Panda follows them"),
    format: str = typer.Option("lerobot", help="Dataset format: lerobot | hdf5"),
    iterations: int = typer.Option(None, min=0, help="Render-and-compare iterations per frame"),
    calibration_iterations: int = typer.Option(None, min=0, help="Appearance calibration steps on the first frames"),
    correct: list[str] = typer.Option(None, help="Only these bodies receive visual forces (default: all movable)"),
    open_loop: bool = typer.Option(True, help="Also run the twin without correction (third overlay column)"),
    device: str = typer.Option("cpu", help="torch device for rendering (cuda uses gsplat when installed)"),
) -> None:
    """Run the correction loop over FRAMES and write the tracked body trajectories and an overlay video
    (observed | corrected render | open-loop render)."""
    from dataclasses import replace

    from gwm.data.api import FORMATS
    from gwm.data.spec import DatasetError
    from gwm.track.config import TrackerConfig
    from gwm.track.loop import TrackInputError

    if format not in FORMATS:
        raise typer.BadParameter(f"unknown format {format!r}; choose one of {list(FORMATS)}", param_hint="--format")
    config = TrackerConfig(device=device)
    if iterations is not None:
        config = replace(config, iterations=iterations)
    if calibration_iterations is not None:
        config = replace(config, calibration_iterations=calibration_iterations)
    if correct:
        config = replace(config, correct_bodies=tuple(correct))
    try:
        summary = track_stream(scene_usd, frames, cameras, out, config, fps=fps, fmt=format, open_loop=open_loop,
                               joints=joints)
    except (TrackInputError, DatasetError, FileNotFoundError, FileExistsError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"tracked {summary['frames']} frames of {len(summary['bodies'])} bodies at "
               f"{summary['rate_hz']:.1f} Hz -> {out}")


def track_stream(scene_usd: Path, frames: Path, cameras: Path, out: Path, config, fps=None, fmt: str = "lerobot",
                 open_loop: bool = True, joints: Path | None = None) -> dict:
    """The command's work, callable from Python; returns the summary it writes. joints: the robot's joint
    states file (gwm.track.stream.read_joint_states); the twin then has the robot, its links following them."""
    import time
    from dataclasses import asdict, replace

    import numpy as np
    import torch

    from gwm.scene.usd_scene import read_usd_scene
    from gwm.atomic_io import write_json_atomic
    from gwm.track.loop import BACKGROUND, TrackInputError, Tracker, run_tracker, scene_gaussians
    from gwm.track.outputs import write_overlay_video, write_tracked_dataset
    from gwm.track.stream import read_joint_states, read_stream
    from sim_tasks.newton_twin import NewtonTwin, robot_link_splats

    out = Path(out)
    if (out / "dataset").exists():
        raise FileExistsError(f"{out / 'dataset'} exists; give an empty --out folder")
    stream = read_stream(frames, cameras, fps)
    q = None if joints is None else read_joint_states(joints, stream.num_frames)
    scene_usd = Path(scene_usd)
    if not scene_usd.is_file():
        raise TrackInputError(f"{scene_usd}: no such scene file (export one with 'gwm export usd')")
    scene = read_usd_scene(scene_usd)
    twin = NewtonTwin(scene_usd, stream.fps, scene=scene, robot=q is not None)
    links = robot_link_splats(twin)
    canonical, reveal = scene_gaussians(scene, config)
    canonical.update(links)
    twin.reset(joints=None if q is None else q[0])
    tracker = Tracker(twin, canonical, stream.cameras, config, reveal=reveal)
    start = time.perf_counter()
    tracker.calibrate(stream.frames[0])
    calibration_s = time.perf_counter() - start
    result = run_tracker(tracker, stream.frames, keep_renders=True, progress=True, joints=q)
    open_renders = None
    if open_loop:
        twin.reset(joints=None if q is None else q[0])
        baseline = Tracker(twin, canonical, stream.cameras, replace(config, iterations=0), reveal=reveal)
        baseline.bodies, baseline.colour, baseline.plate = tracker.bodies, tracker.colour, tracker.plate  # same look
        open_renders = run_tracker(baseline, stream.frames, keep_renders=True, joints=q).renders
    names = (BACKGROUND, *twin.body_names)
    roles = ("background", *twin.body_roles)
    poses = np.concatenate([np.tile([0, 0, 0, 1.0, 0, 0, 0], (len(result.poses), 1, 1)), result.poses], 1)
    wrenches = np.concatenate([np.zeros((len(result.poses), 1, 6)), result.wrenches], 1)
    meta = {"scene_usd": str(scene_usd), "frames": str(frames), "config": asdict(config),
            "normalisation": scene.metadata.get("normalisation")}
    stored, _ = scene_gaussians(scene, replace(config, reveal_support=False))  # the scene's own: no fill
    stored.update(links)
    dataset = write_tracked_dataset(out / "dataset", fmt, poses, wrenches, stream.fps, names, roles,
                                    {k: v.detach().to(dtype=torch.float32) for k, v in stored.items()}, stream.specs, meta)
    write_overlay_video(out / "overlay.mp4", stream.frames, result.renders, open_renders, stream.fps)
    summary = {"frames": int(len(result.poses)), "bodies": list(names), "fps": stream.fps,
               "cameras": [s.name for s in stream.specs], "rate_hz": float(1.0 / np.mean(result.seconds)),
               "calibration_s": calibration_s, "dataset": str(dataset), "overlay": str(out / "overlay.mp4")}
    write_json_atomic(out / "summary.json", summary)
    return summary


if __name__ == "__main__":
    app()
