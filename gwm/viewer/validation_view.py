"""A validation run (the folder gwm.model.validate writes): the simulator's states and the world model's
open-loop prediction for one window, side by side or overlaid, a horizon slider, and the per-horizon errors.

metrics.json names the model; the model names the dataset it was trained on. The window's prediction is
made here the way validate makes it (gwm.model.inference.rollout_batch, then model.rollout with a generator
seeded with the run's seed: a sample of the same model, not the run's own stored sample, which validate does not
keep); the reference is the recorded held-out trajectory (the simulator's own rollout of those actions; validate
replays them in the simulator, which is deterministic, to the same states).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from gwm.viewer.splat_layer import SplatArrays, SplatNode, add_style_controls, subsample
from gwm.viewer.views import VIEW_DIRECTION, aim_camera

PREDICTION_TINT = (1.0, 0.1, 0.8)  # overlay: the prediction's Gaussians pulled towards magenta
# metric key in metrics.json -> column title
TABLE_METRICS = {"psnr": "PSNR dB", "object_position_error_m": "object m", "robot_position_error_m": "robot m"}


@dataclass
class ValidationView:
    run: dict  # metrics.json
    model: object
    traj: object  # gwm.model.trajectories.Trajectories
    starts: list[tuple[int, int]]
    window: int
    seed: int
    sample_steps: int | None
    static: SplatArrays
    total: int
    truth: torch.Tensor | None = None  # (H, N, 14)
    pred: torch.Tensor | None = None
    shown: dict | None = None  # "truth" / "pred": the SplatNodes of the moving Gaussians at the chosen step

    @property
    def horizon(self) -> int:
        return int(self.run["horizon"])

    def predict(self, window: int) -> None:
        from gwm.model.inference import rollout_batch

        m, sp = self.model, self.traj.space
        ctx, acts, truth = rollout_batch(self.traj, sp, [self.starts[window]], self.horizon, m.context, m.action_chunk)
        with torch.no_grad():
            pred = m.rollout(ctx, acts, torch.Generator().manual_seed(self.seed), self.sample_steps)
        self.window, self.truth, self.pred = window, truth[0], pred[0]

    def centre_error(self, h: int) -> float:
        """Mean distance (m) between predicted and true Gaussian centres at horizon step h (1-based)."""
        sp = self.traj.space
        return float((sp.means(self.pred[h - 1]) - sp.means(self.truth[h - 1])).norm(dim=-1).mean())

    def build(self, viewer) -> None:
        server = viewer.server
        sp = self.traj.space
        scene_pts = np.concatenate([self.static.centers, sp.means(self.truth).reshape(-1, 3).numpy()])
        # the world model's copy stands behind the simulator's as the initial camera sees it, so both stay
        # clear of the control panel on the right
        behind = -np.array([*VIEW_DIRECTION[:2], 0.0]) / np.hypot(*VIEW_DIRECTION[:2])
        offset = 1.15 * float(max(np.ptp(scene_pts[:, :2], axis=0).max(), 0.2)) * behind
        static_nodes = ([SplatNode(server, "/simulator/static", self.static),
                         SplatNode(server, "/world_model/static", self.static)] if len(self.static) else [])
        dyn = self.shown = {}

        info = self.run["info"]
        server.gui.add_markdown(f"**validation** {viewer.path.name}: {self.run['windows']} windows, horizon "
                                f"{self.horizon}; reference: {info.get('reference', '?')}  \n"
                                "in front: simulator; behind: world model (or overlaid, the prediction in magenta)")
        with server.gui.add_folder("Window"):
            status = server.gui.add_markdown("")
            window = server.gui.add_slider("Window", min=0, max=max(len(self.starts) - 1, 1), step=1,
                                           initial_value=self.window, disabled=len(self.starts) < 2)
            horizon = server.gui.add_slider("Horizon step", min=1, max=max(self.horizon, 2), step=1, initial_value=1)
            overlay = server.gui.add_checkbox("Overlay", initial_value=False)
        with server.gui.add_folder("Errors at this step, all windows"):
            table = server.gui.add_markdown("")
        top = (0.0, 0.0, float(scene_pts[:, 2].max()) + 0.05)
        server.scene.add_label("/simulator/label", "simulator", position=top)

        def show() -> None:
            h = int(horizon.value)
            over = bool(overlay.value)
            pos = np.zeros(3) if over else offset
            server.scene.add_frame("/world_model", show_axes=False, position=pos)
            server.scene.add_label("/world_model/label", "world model", position=top, visible=not over)
            if static_nodes:
                static_nodes[1].set_visible(not over)
            truth = SplatArrays.from_splats(sp.to_splats(self.truth[h - 1]))
            pred = SplatArrays.from_splats(sp.to_splats(self.pred[h - 1]))
            dyn["truth"] = SplatNode(server, "/simulator/moving", truth)
            dyn["pred"] = SplatNode(server, "/world_model/moving", pred, tint=PREDICTION_TINT if over else None)
            e, t = self.starts[self.window]
            status.content = f"held-out episode {e}, from step {t}; this window's Gaussian centre error " \
                             f"at step {h}: {self.centre_error(h) * 1e3:.1f} mm"
            table.content = errors_table(self.run["metrics"], h)
            viewer.info.update(window=self.window, horizon_step=h, centre_error_m=self.centre_error(h))

        @window.on_update
        def _(_):
            self.predict(int(window.value))
            show()

        for handle in (horizon, overlay):
            handle.on_update(lambda _: show())
        show()
        viewer.controls.update(window=window, horizon=horizon, overlay=overlay)
        viewer.controls.update(add_style_controls(server, static_nodes))
        aim_camera(server, np.concatenate([scene_pts, scene_pts + offset]))
        viewer.info.update(gaussians_shown=len(self.static) + self.truth.shape[1],
                           gaussians_total=self.total + self.truth.shape[1])


def errors_table(metrics: dict, h: int) -> str:
    """Markdown: each method's metrics at horizon step h (1-based)."""
    keys = [k for k in TABLE_METRICS if any(k in d for d in metrics.values())]
    rows = [f"| step {h} | " + " | ".join(TABLE_METRICS[k] for k in keys) + " |",
            "|---|" + "---|" * len(keys)]
    for method, d in metrics.items():
        cells = [f"{d[k][h - 1]:.4g}" if k in d and len(d[k]) >= h else "-" for k in keys]
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def load_validation_view(path: Path, max_gaussians: int, episode: int | None = None, **_) -> ValidationView:
    import typer

    from gwm.model.cli import open_world_dataset
    from gwm.model.inference import load_world_model
    from gwm.model.trajectories import load_trajectories
    from gwm.model.validate import _window_starts

    run = json.loads((path / "metrics.json").read_text())
    info = run["info"]
    model_path = Path(info["model"])
    if not model_path.is_absolute() and not model_path.exists():
        model_path = path / model_path
    if not model_path.exists():
        raise FileNotFoundError(f"{path}/metrics.json: its model {info['model']} is not there; "
                                "view the run where it was made, or re-run 'gwm model validate'")
    model, minfo = load_world_model(model_path)
    source = str(minfo.get("dataset", {}).get("source", ""))
    try:
        ds = open_world_dataset(source)
    except typer.BadParameter as e:
        raise FileNotFoundError(f"{model_path}: its training dataset {source!r} is not there ({e.message})") from None
    traj = load_trajectories(ds, minfo["config"].data)
    vcfg = info.get("validation_config", {})
    cfg = SimpleNamespace(horizon=int(run["horizon"]), stride=int(vcfg.get("stride", 2)),
                          max_windows=int(vcfg.get("max_windows", 64)))
    starts = _window_starts(traj, cfg, model.action_chunk)
    window = 0 if episode is None else int(episode)
    if not 0 <= window < len(starts):
        raise ValueError(f"--episode {window} is out of range: the run has windows 0..{len(starts) - 1}")
    static = subsample(traj.static_splats, max_gaussians)
    view = ValidationView(run, model, traj, starts, window, int(vcfg.get("seed", 0)), vcfg.get("sample_steps"),
                          SplatArrays.from_splats(static), len(traj.static_splats))
    view.predict(window)
    return view


__all__ = ["ValidationView", "errors_table", "load_validation_view"]
