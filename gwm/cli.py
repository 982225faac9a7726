"""`gwm` command line: one sub-command group per stage, for people who do not use Prefect."""

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
    "track": "sim_tasks.track_cli",
}

for _name, _module in _STAGES.items():
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as e:
        if e.name != _module:  # a real missing dependency inside an existing module
            raise
        continue
    app.add_typer(_mod.app, name=_name)


if __name__ == "__main__":
    app()
