import numpy as np

from sim_tasks.panda_model import ARM_JOINTS, FINGER_JOINTS, LINK_BODIES, TOOL_SITE, write_panda_mjcf


def test_flattened_mjcf_loads_in_mujoco_with_the_kitchen_chain(tmp_path):
    import mujoco

    path = write_panda_mjcf(cache_dir=tmp_path)
    assert path == write_panda_mjcf(cache_dir=tmp_path)  # content-addressed: written once
    m = mujoco.MjModel.from_xml_path(str(path))
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(m.njnt)]
    assert names == list(ARM_JOINTS + FINGER_JOINTS)
    assert m.nu == 9
    bodies = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, m.nbody)]
    assert bodies == list(LINK_BODIES)
    assert np.all(m.body_gravcomp[1:] == 1.0)
    # The tool site is 0.21 m along link7's z axis (FACTS.md); at q = 0 link7's z points up here.
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, TOOL_SITE)
    link7 = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "panda0_link7")
    offset = d.site_xpos[site] - d.xpos[link7]
    np.testing.assert_allclose(np.linalg.norm(offset), 0.21, atol=1e-6)
    np.testing.assert_allclose(d.xmat[link7].reshape(3, 3).T @ offset, [0, 0, 0.21], atol=1e-6)


def test_gravity_compensation_can_be_switched_off(tmp_path):
    import mujoco

    m = mujoco.MjModel.from_xml_path(str(write_panda_mjcf(cache_dir=tmp_path, gravity_compensation=False)))
    assert np.all(m.body_gravcomp == 0.0)
