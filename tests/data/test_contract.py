"""Body roles and camera specs are typed fields of the DatasetSpec: they round-trip through both formats,
old datasets without them still open, and bad values are refused with a message."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from gwm.cameras import CameraSpec, Cameras, fixed_cameras, intrinsics_from_fov, look_at
from gwm.data import DatasetSpec, GaussianDataset, convert_dataset, dataset_cameras, open_dataset
from tests.data.conftest import H, W, make_episode, make_spec, record

K = intrinsics_from_fov(60.0, W, H)
WRIST = look_at((-0.09, 0.0, -0.05), (0.0, 0.0, 0.15), up=(-1.0, 0.0, 0.0))
CAMERAS = (CameraSpec("cam0", K, W, H, "world", look_at((0.5, -0.6, 0.5), (0.0, 0.0, 0.0))),
           CameraSpec("wrist", intrinsics_from_fov(75.0, 64, 64), 64, 64, "ee", WRIST),
           CameraSpec("on_bowl", K, W, H, "bowl", look_at((0.0, 0.0, 0.2), (0.0, 0.1, 0.0))))


def _spec(**kw) -> DatasetSpec:
    return dataclasses.replace(make_spec(depth=False), **{"body_roles": ("object", "container"), "cameras": CAMERAS,
                                                          **kw})


@pytest.mark.parametrize("fmt", ["lerobot", "hdf5"])
def test_roles_and_cameras_round_trip(tmp_path, fmt):
    spec = _spec()
    path = record(tmp_path / fmt, spec, fmt, [make_episode(spec, 3, seed=0)])
    ds = open_dataset(path)
    assert isinstance(ds, GaussianDataset)
    assert ds.spec.same_as(spec)
    assert ds.body_roles == {"cube": "object", "bowl": "container"}
    assert ds.cameras == CAMERAS  # exact: K and mounts stored as plain numbers
    back = open_dataset(convert_dataset(path, tmp_path / "converted", "hdf5" if fmt == "lerobot" else "lerobot"))
    assert back.body_roles == ds.body_roles and back.cameras == CAMERAS


def test_camera_spec_poses_fixed_and_mounted_cameras():
    fixed, wrist, _ = CAMERAS
    assert fixed.is_fixed and not wrist.is_fixed
    world_from_tool = torch.eye(4)
    world_from_tool[:3, 3] = torch.tensor([0.3, 0.1, 0.9])
    torch.testing.assert_close(wrist.world_from_cam(world_from_tool), world_from_tool @ WRIST)
    with pytest.raises(ValueError, match="mounted on 'ee': give that frame's pose"):
        wrist.world_from_cam()
    cams = fixed_cameras(CAMERAS)  # the world model renders from the fixed ones
    assert len(cams) == 1 and (cams.width, cams.height) == (W, H)
    torch.testing.assert_close(cams.world_from_cam[0], fixed.world_from_cam())
    assert CameraSpec.from_dict(json.loads(json.dumps(wrist.to_dict()))) == wrist


def test_cameras_to_dict_round_trip():
    cams = Cameras(torch.stack([K, K * 1.1]).contiguous(), torch.stack([look_at((1, 0, 1), (0, 0, 0)),
                                                                         look_at((0, 1, 1), (0, 0, 0))]), W, H)
    cams.Ks[1, 2] = torch.tensor([0.0, 0.0, 1.0])
    back = Cameras.from_dict(json.loads(json.dumps(cams.to_dict())))
    torch.testing.assert_close(back.Ks, cams.Ks)
    torch.testing.assert_close(back.world_from_cam, cams.world_from_cam)
    assert (back.width, back.height) == (W, H)
    with pytest.raises(ValueError, match="only OpenCV camera axes"):
        Cameras.from_dict({**cams.to_dict(), "axes": "opengl"})


def _strip_contract(path, fmt, legacy_cameras):
    """Rewrite a dataset's stored spec as code before roles and camera specs wrote it."""
    if fmt == "lerobot":
        meta_path = path / "meta" / "gwm.json"
        meta = json.loads(meta_path.read_text())
        del meta["spec"]["body_roles"], meta["spec"]["cameras"]
        meta["metadata"]["cameras"] = legacy_cameras
        meta_path.write_text(json.dumps(meta))
    else:
        import h5py

        with h5py.File(path, "r+") as f:
            spec = json.loads(f["data"].attrs["gwm_spec"])
            del spec["body_roles"], spec["cameras"]
            f["data"].attrs["gwm_spec"] = json.dumps(spec)
            meta = json.loads(f["data"].attrs["gwm_metadata"])
            f["data"].attrs["gwm_metadata"] = json.dumps({**meta, "cameras": legacy_cameras})


@pytest.mark.parametrize("fmt", ["lerobot", "hdf5"])
def test_old_datasets_open_with_roles_unknown_and_their_cameras_read(tmp_path, fmt):
    spec = _spec()
    path = record(tmp_path / fmt, spec, fmt, [make_episode(spec, 3, seed=0)])
    fixed, wrist, _ = CAMERAS
    # sim_tasks' layout before CameraSpec (the wrist camera had no images: its size comes from K)
    legacy = {"cam0": {"K": fixed.K, "world_from_cam": fixed.mount_from_cam},
              "wrist": {"K": wrist.K, "tool_from_cam": wrist.mount_from_cam}}
    _strip_contract(path, fmt, legacy)
    ds = open_dataset(path)
    assert ds.spec.body_roles == () and ds.body_roles == {}
    assert ds.cameras == CAMERAS[:2]
    assert ds.summary()["body_roles"] is None
    # gwm.model.synthetic's layout before CameraSpec: one fixed Cameras batch
    (cam,) = dataset_cameras(ds.spec, {**ds.metadata, "cameras": fixed_cameras(CAMERAS).to_dict()})
    assert cam.name == "cam0" and cam.mount == "world" and (cam.width, cam.height) == (W, H)
    np.testing.assert_allclose(cam.mount_from_cam, fixed.mount_from_cam, atol=1e-6)


def test_bad_roles_and_cameras_are_refused():
    with pytest.raises(ValueError, match="2 body_names; give one role per body"):
        _spec(body_roles=("object",))
    with pytest.raises(ValueError, match="body 'bowl'.*role 'bowl' is not one of"):
        _spec(body_roles=("object", "bowl"))
    with pytest.raises(ValueError, match="mounted on 'hand', which is not 'world', 'ee' or one of body_names"):
        _spec(cameras=(dataclasses.replace(CAMERAS[0], mount="hand"),))
    with pytest.raises(ValueError, match=f"camera 'cam0' is 64x64 but its feature 'observation.images.cam0'"):
        _spec(cameras=(dataclasses.replace(CAMERAS[0], width=64, height=64),))
    with pytest.raises(ValueError, match="duplicate names"):
        _spec(cameras=(CAMERAS[0], CAMERAS[0]))
    with pytest.raises(ValueError, match="not a rigid transform"):
        CameraSpec("c", K, W, H, "world", np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="not a pinhole intrinsics matrix"):
        CameraSpec("c", np.zeros((3, 3)), W, H)
