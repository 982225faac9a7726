"""Demonstration datasets: LeRobot v3.0 Parquet and robomimic / Isaac Lab HDF5, with the Gaussian world state.

    rec = create_recorder(root, spec, "lerobot" | "hdf5", canonical_gaussians=..., image_format="video" | "png")
    rec.add_frame(frame, task); rec.save_episode(success, seed); rec.finalize()
    ds = open_dataset(root); ds.episode(i); ds.gaussians_at(i, t); WindowDataset(ds, context, horizon)
"""

from gwm.data.base import DatasetReader, Recorder
from gwm.data.contract import GaussianDataset, dataset_cameras
from gwm.data.api import check_dataset, convert_dataset, create_recorder, merge_datasets, open_dataset
from gwm.data.spec import DatasetError, DatasetSpec, FeatureSpec
from gwm.data.windows import WindowDataset

__all__ = [
    "DatasetError",
    "DatasetReader",
    "DatasetSpec",
    "FeatureSpec",
    "GaussianDataset",
    "Recorder",
    "WindowDataset",
    "check_dataset",
    "convert_dataset",
    "create_recorder",
    "dataset_cameras",
    "merge_datasets",
    "open_dataset",
]
