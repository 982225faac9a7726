"""The `gwm` console script: one sub-command group per stage, for people who do not use Prefect.

It lives in the top layer because it composes every layer (gwm <- exporters <- sim_tasks <- pipelines):
a stage's own CLI module knows only its layer and the ones below. Run it as `gwm ...` (installed)
or `python -m pipelines.cli_main ...` (also under torchrun).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Real-to-sim pipeline around a Gaussian world model.", no_args_is_help=True)

# Each stage module exposes a typer app named `app`; imported here so `gwm --help` lists them.
_STAGES = {
    "capture": "gwm.capture.cli",
    "reconstruct": "gwm.reconstruct.cli",
    "scene": "gwm.scene.cli",
    "export": "exporters.cli",
    "sim": "sim_tasks.cli",
    "data": "gwm.data.cli",
    "model": "gwm.model.cli",
    "pipeline": "pipelines.cli",
    "plan": "sim_tasks.plan_cli",
    "track": "sim_tasks.track_cli",
}

_apps = {}
for _name, _module in _STAGES.items():
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as e:
        if e.name != _module:  # a real missing dependency inside an existing module
            raise
        continue
    _apps[_name] = _mod.app
    app.add_typer(_mod.app, name=_name)

# `gwm scene assemble` is `gwm export usd` under the name the scene files and README use: one command,
# registered here because assembling to USD crosses from gwm.scene into exporters.
if "scene" in _apps and "export" in _apps:
    from exporters.cli import usd as _export_usd

    _apps["scene"].command("assemble", help="Assemble a scene file and write it as USD (same as `gwm export usd`)."
                           )(_export_usd)

# `gwm view PATH` is one command (not a group): the viewer opens any stage's output.
from gwm.viewer.cli import view as _view  # noqa: E402

app.command("view", help="Open a splat, capture, scene, dataset or validation run in a local web viewer.")(_view)


if __name__ == "__main__":
    app()
