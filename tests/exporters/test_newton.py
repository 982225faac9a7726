"""Newton loads our exported USD and the physics makes sense: a body dropped 5 cm onto the
table comes to rest on it. Slow on a cold Warp kernel cache (~60-90 s to compile on 2 cores)."""

import copy

import numpy as np
import pytest

from exporters.usd import export_usd

newton = pytest.importorskip("newton")
pytest.importorskip("newton_usd_schemas")


@pytest.mark.slow
def test_newton_drop_onto_table(assembled, tmp_path):
    import warp as wp

    wp.config.quiet = True
    scene = copy.copy(assembled)
    scene.objects = [copy.copy(o) for o in assembled.objects]
    rest = {o.name: o.world_from_body.clone() for o in scene.objects}
    cube = scene.object("red_cube")
    cube.world_from_body = cube.world_from_body.clone()
    cube.world_from_body[2, 3] += 0.05  # release 5 cm above its resting pose
    path = export_usd(scene, tmp_path / "drop.usdz")

    builder = newton.ModelBuilder()
    # Registers the mjc:* attributes, so the stage's mjc:flag:multiccd reaches the solver.
    newton.solvers.SolverMuJoCo.register_custom_attributes(builder)
    result = builder.add_usd(str(path))
    bodies = result["path_body_map"]
    assert set(bodies) == {f"/World/Objects/{n}" for n in scene.object_names}
    model = builder.finalize(device="cpu")
    masses = model.body_mass.numpy()
    for o in scene.objects:
        assert masses[bodies[f"/World/Objects/{o.name}"]] == pytest.approx(o.mass, rel=1e-6)
    solver = newton.solvers.SolverMuJoCo(model, use_mujoco_cpu=True)
    state0, state1, control = model.state(), model.state(), model.control()
    for _ in range(750):  # 1.5 s at 2 ms
        solver.step(state0, state1, control, None, 0.002)
        state0, state1 = state1, state0
    body_q = state0.body_q.numpy()  # (B, 7): xyz + quat xyzw
    for o in scene.objects:
        q = body_q[bodies[f"/World/Objects/{o.name}"]]
        expected = rest[o.name][:3, 3].numpy()
        assert abs(q[2] - expected[2]) < 0.005, (o.name, q[:3], expected)  # resting height within 5 mm
        assert np.linalg.norm(q[:2] - expected[:2]) < 0.005, (o.name, q[:3], expected)
        assert np.linalg.norm(state0.body_qd.numpy()[bodies[f"/World/Objects/{o.name}"]]) < 0.01  # at rest

