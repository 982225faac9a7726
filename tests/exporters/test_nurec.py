import gzip
import struct
import zipfile

import msgpack
import numpy as np
import pytest
import torch

from exporters.nurec import decode_nurec, encode_nurec, export_nurec, read_nurec
from tests.exporters.helpers import random_splats, validation_errors

pxr = pytest.importorskip("pxr")
from pxr import Usd, UsdGeom, UsdPhysics, UsdVol  # noqa: E402

P = ".gaussians_nodes.gaussians."


def test_payload_tensors_and_round_trip():
    s = random_splats(n=40, degree=3)
    raw = encode_nurec(s)
    payload = msgpack.unpackb(gzip.decompress(raw), strict_map_key=False)["nre_data"]
    assert payload["model"] == "nre" and payload["config"]["layers"]["gaussians"]["precision"] == 16
    st = payload["state_dict"]
    shapes = {k: st[P + k + ".shape"] for k in ("positions", "rotations", "scales", "densities",
                                                 "features_albedo", "features_specular", "extra_signal")}
    assert shapes == {"positions": [40, 3], "rotations": [40, 4], "scales": [40, 3], "densities": [40, 1],
                      "features_albedo": [40, 3], "features_specular": [40, 45], "extra_signal": [40, 0]}
    assert len(st[P + "positions"]) == 40 * 3 * 2  # float16
    assert np.frombuffer(st[P + "n_active_features"], np.int64)[0] == 3
    # features_specular is coefficient-major: [k1 rgb, k2 rgb, ...] per Gaussian.
    spec = np.frombuffer(st[P + "features_specular"], np.float16).reshape(40, 45)
    np.testing.assert_allclose(spec[7, 3:6], s.sh[7, 2].numpy(), atol=2e-3, rtol=1e-3)
    rot = np.frombuffer(st[P + "rotations"], np.float16).reshape(40, 4)
    np.testing.assert_allclose(rot[7], s.unit_quats_wxyz[7].numpy(), atol=1e-3)  # w first

    back = decode_nurec(raw)
    torch.testing.assert_close(back.means, s.means, atol=4e-3, rtol=1e-3)  # float16
    torch.testing.assert_close(back.sh, s.sh, atol=4e-3, rtol=1e-3)
    torch.testing.assert_close(back.log_scales, s.log_scales, atol=4e-3, rtol=1e-3)
    torch.testing.assert_close(back.logit_opacities, s.logit_opacities, atol=4e-3, rtol=1e-3)
    assert torch.all((back.unit_quats_wxyz * s.unit_quats_wxyz).sum(-1).abs() > 1 - 1e-3)


def test_package_layout(assembled, tmp_path):
    path = export_nurec(assembled, tmp_path / "kitchen.usdz")
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == ["default.usda", "kitchen.nurec", "gauss.usda", "mesh.usda"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    with open(path, "rb") as f:  # USDZ: every file's data starts on a 64-byte boundary
        for i in infos:
            f.seek(i.header_offset)
            name_len, extra_len = struct.unpack("<HH", f.read(30)[26:30])
            assert (i.header_offset + 30 + name_len + extra_len) % 64 == 0

    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Z" and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetPath() == "/World"
    vol = stage.GetPrimAtPath("/World/gauss/gauss")
    assert vol.IsA(UsdVol.Volume)
    assert vol.GetAttribute("omni:nurec:isNuRecVolume").Get() is True
    for field, child in (("density", "density_field"), ("emissiveColor", "emissive_color_field")):
        target = UsdVol.Volume(vol).GetFieldPath(field)
        asset = stage.GetPrimAtPath(target)
        assert target.name == child and asset.GetTypeName() == "OmniNuRecFieldAsset"
        assert asset.GetAttribute("filePath").Get().path == "./kitchen.nurec"
    world = assembled.world_splats().means.numpy()
    lo, hi = (np.asarray(vol.GetAttribute(f"omni:nurec:crop:{k}Bounds").Get()) for k in ("min", "max"))
    np.testing.assert_allclose(lo, world.min(0), atol=1e-5)
    np.testing.assert_allclose(hi, world.max(0), atol=1e-5)
    ext = np.asarray(vol.GetAttribute("extent").Get())
    assert np.all(ext[0] <= lo) and np.all(ext[1] >= hi)
    proxy = stage.GetPrimAtPath(vol.GetRelationship("proxy").GetTargets()[0])
    assert proxy.IsA(UsdGeom.Mesh) and proxy.HasAPI(UsdPhysics.CollisionAPI)
    assert UsdPhysics.MeshCollisionAPI(proxy).GetApproximationAttr().Get() == "none"
    n_hull = sum(len(o.collision_vertices) for o in assembled.objects)
    assert len(proxy.GetAttribute("points").Get()) == len(assembled.support_vertices) + n_hull
    # The only validator complaint is the .nurec file itself, which the NuRec layout requires.
    errors = validation_errors(path)
    assert errors and all(e.startswith("UnsupportedFileExtensionInPackage") and ".nurec" in e for e in errors)

    back = read_nurec(path)
    ref = assembled.world_splats()
    torch.testing.assert_close(back.means, ref.means, atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(back.sh, ref.sh, atol=2e-3, rtol=1e-3)


def test_background_only_and_bad_extension(assembled, tmp_path):
    path = export_nurec(assembled, tmp_path / "bg.usdz", include_objects=False)
    assert len(read_nurec(path)) == len(assembled.background)
    with pytest.raises(ValueError, match=".usdz"):
        export_nurec(assembled, tmp_path / "bg.usd")
