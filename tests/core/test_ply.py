import numpy as np
import pytest
import torch
from plyfile import PlyData, PlyElement

from gwm.ply import ply_property_names, read_ply, read_ply_metadata, write_ply
from tests.core.test_splats import random_splats


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_ply_round_trip_is_exact(tmp_path, degree):
    s = random_splats(200, degree=degree)
    path = write_ply(tmp_path / "s.ply", s, metadata={"config": {"a": 1}})
    r = read_ply(path)
    for name in ["means", "quats_wxyz", "log_scales", "logit_opacities", "sh"]:
        assert torch.equal(getattr(r, name), getattr(s, name)), name
    assert read_ply_metadata(path)["config"] == {"a": 1}
    assert read_ply_metadata(path)["format_version"] == 1


def test_ply_has_exact_inria_property_order_and_channel_major_rest(tmp_path):
    s = random_splats(3, degree=3)
    path = write_ply(tmp_path / "s.ply", s)
    v = PlyData.read(str(path))["vertex"]
    names = [p.name for p in v.properties]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[9:54] == [f"f_rest_{i}" for i in range(45)]
    assert names[54:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert names == ply_property_names(3)
    assert all(p.val_dtype in ("f4", "float32") for p in v.properties)
    # f_rest_0..14 are the red channel's coefficients 1..15.
    assert np.allclose(v["f_rest_0"], s.sh[:, 1, 0].numpy())
    assert np.allclose(v["f_rest_15"], s.sh[:, 1, 1].numpy())
    assert np.allclose(v["rot_0"], s.quats_wxyz[:, 0].numpy())


def test_gsply_reads_our_ply(tmp_path):
    import gsply

    s = random_splats(20, degree=3)
    d = gsply.plyread(str(write_ply(tmp_path / "s.ply", s)))
    assert np.allclose(np.asarray(d.means), s.means.numpy())
    assert np.allclose(np.asarray(d.quats), s.quats_wxyz.numpy())


def _write_raw(path, names, n=4, fill=0.5):
    arr = np.full(n, fill, dtype=[(k, "<f4") for k in names])
    PlyData([PlyElement.describe(arr, "vertex")]).write(str(path))
    return path


def test_missing_properties_error(tmp_path):
    p = _write_raw(tmp_path / "bad.ply", ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"])
    with pytest.raises(ValueError, match=r"missing Gaussian properties \['opacity'"):
        read_ply(p)


def test_wrong_sh_count_error(tmp_path):
    names = ply_property_names(0)
    names = names[:9] + [f"f_rest_{i}" for i in range(6)] + names[9:]
    with pytest.raises(ValueError, match="wrong SH count"):
        read_ply(_write_raw(tmp_path / "bad.ply", names))


def test_nan_error(tmp_path):
    p = _write_raw(tmp_path / "nan.ply", ply_property_names(0), fill=float("nan"))
    with pytest.raises(ValueError, match="NaN or inf in means"):
        read_ply(p)


def test_not_a_ply_and_missing_file(tmp_path):
    (tmp_path / "x.ply").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a readable PLY"):
        read_ply(tmp_path / "x.ply")
    with pytest.raises(FileNotFoundError):
        read_ply(tmp_path / "nope.ply")


def test_write_refuses_nan_and_leaves_no_file(tmp_path):
    s = random_splats(4)
    s.means[0, 0] = float("nan")
    with pytest.raises(ValueError):
        write_ply(tmp_path / "s.ply", s)
    assert list(tmp_path.iterdir()) == []
