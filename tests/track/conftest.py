import os

# MuJoCo picks its OpenGL backend when first imported: headless EGL for the test bed's renders.
os.environ.setdefault("MUJOCO_GL", "egl")
