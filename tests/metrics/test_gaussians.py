import math

import pytest
import torch

from gwm.geometry import pose_to_matrix
from gwm.metrics.gaussians import body_pose_errors, centre_error, chamfer_distance


def _posed(canon, body_id, poses):
    mats = pose_to_matrix(poses[:, :3], poses[:, 3:])
    return torch.stack([mats[b, :3, :3] @ canon[i] + mats[b, :3, 3] for i, b in enumerate(body_id.tolist())])


def test_centre_error_and_chamfer_of_a_shift():
    a = torch.randn(2, 50, 3)
    shift = torch.tensor([0.03, 0.0, 0.04])  # 5 cm
    assert torch.allclose(centre_error(a + shift, a), torch.full((2,), 0.05), atol=1e-6)
    assert torch.allclose(chamfer_distance(a, a), torch.zeros(2))
    # a permutation does not change Chamfer but does change the centre error
    perm = a[:, torch.randperm(50)]
    assert torch.allclose(chamfer_distance(perm, a), torch.zeros(2), atol=1e-6)
    assert (centre_error(perm, a) > 0.1).all()
    with pytest.raises(ValueError, match="correspondence"):
        centre_error(a[:, :10], a)


def test_body_pose_errors_recover_known_offsets():
    torch.manual_seed(0)
    canon = torch.randn(12, 3) * 0.05
    body_id = torch.tensor([0] * 6 + [1] * 6)
    yaw = 0.7
    true = torch.tensor([[0.1, 0.2, 0.0, 1, 0, 0, 0],
                         [0.3, -0.1, 0.05, math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)]])
    pos, ang = body_pose_errors(_posed(canon, body_id, true)[None], canon, body_id, true[None], [0, 1])
    assert pos.max() < 1e-6 and ang.max() < 1e-3
    # body 1 predicted 2 cm off along x and rotated 10 degrees further about z
    off = true.clone()
    off[1, 0] += 0.02
    y2 = yaw + math.radians(10)
    off[1, 3:] = torch.tensor([math.cos(y2 / 2), 0, 0, math.sin(y2 / 2)])
    pos, ang = body_pose_errors(_posed(canon, body_id, off)[None], canon, body_id, true[None], [0, 1])
    assert pos[0, 0] < 1e-6 and abs(pos[0, 1] - 0.02) < 1e-5
    assert ang[0, 0] < 1e-3 and abs(ang[0, 1] - 10.0) < 1e-3


def test_blocked_chamfer_equals_the_dense_formula():
    import torch

    from gwm.metrics.gaussians import chamfer_distance

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 300, 3, generator=g), torch.randn(2, 3, 250, 3, generator=g)
    d = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
    dense = 0.5 * (d.min(-1).values.mean(-1) + d.min(-2).values.mean(-1))
    torch.testing.assert_close(chamfer_distance(a, b, block=64), dense)
