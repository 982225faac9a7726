"""Generator of the bundled sample captures (datasets/kitchen, datasets/workbench).

Data-generation tooling, not pipeline code: no pipeline stage imports it, and it is not
installed (run it as `python datasets/generator/generate.py`). A sample is a scene definition
(kitchen.py, workbench.py; desk.py, not bundled); the code that draws, renders and writes ground truth is shared:

    textures.py   procedural textures and the printed marker
    meshes.py     meshes with UVs, object part builders, OBJ output
    poses.py      rotations, look-at cameras, orbits, intrinsics, hand shake
    scene.py      SceneDef and the per-object ground truth (pose, mesh, shape facts)
    render.py     MJCF assembly and the OpenCV-posed MuJoCo offscreen renderer
    imaging.py    sensor noise and JPEG
    phone_ar.py   the phone AR export (nerfstudio transforms.json with ARKit-like poses)
    truth.py      ground_truth.json, exact-pose transforms.json + sparse_pc.ply, preview
    write.py      renders a SceneDef and writes the sample folder
"""

from . import desk, kitchen, workbench

# desk: not bundled; a scene no default was tuned on (generate it with --out)
SCENES = {"kitchen": kitchen.scene, "workbench": workbench.scene, "desk": desk.scene}
