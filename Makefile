# One-command setup: `make run` (main job on the bundled kitchen) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test serve clean-outputs isaaclab-venv isaaclab-smoke

# torch's OpenMP workers spin while idle; on a shared 2-core machine that stalls every op.
export OMP_WAIT_POLICY ?= PASSIVE
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU torch wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gwm pipeline kitchen

test: $(STAMP)
	$(PY) -m pytest -q

serve: $(STAMP)
	$(VENV)/bin/gwm pipeline serve

# Isaac Lab 3.0 (Newton backend, no Omniverse Kit) in its own venv: it needs newton 1.6.1, the main
# venv has 1.8.0. The isaaclab wheel declares Python 3.12 but runs on 3.11; --no-deps keeps its
# isaacsim/torch pins out. Its Warp kernels are cached in $(ISAACLAB_VENV)/warp-cache (set by
# sim_tasks.isaaclab_cli and the smoke test; a cold cache costs 1-2 min of compiling).
ISAACLAB_VENV ?= .venv-isaaclab
ISAACLAB_PY := $(ISAACLAB_VENV)/bin/python
ISAACLAB_STAMP := $(ISAACLAB_VENV)/.installed

$(ISAACLAB_STAMP): Makefile
	python3 -m venv $(ISAACLAB_VENV)
	$(ISAACLAB_PY) -m pip install -q --upgrade pip
	$(ISAACLAB_PY) -m pip install -q torch==2.13.0
	$(ISAACLAB_PY) -m pip install -q --ignore-requires-python --prefer-binary "numpy<2.5" "warp-lang==1.19.0" \
		"newton[sim]==1.6.1" "usd-core>=25.5,<26.9" "newton-usd-schemas>=0.5.0" "gymnasium>=1.2.0" \
		"lazy_loader>=0.4" h5py prettytable psutil pyyaml hydra-core rich scipy trimesh pillow \
		plyfile gsply pyarrow typer tqdm safetensors imageio "gymnasium-robotics==1.4.2"
	$(ISAACLAB_PY) -m pip install -q --no-deps --ignore-requires-python isaaclab==3.0.0
	# NVIDIA's MJCF -> UsdPhysics converter turns the project's Panda MJCF into the robot USD. It pins
	# mujoco 3.16 (newton 1.6.1 has 3.12) but converts this model with 3.12: install it without deps.
	$(ISAACLAB_PY) -m pip install -q --no-deps mujoco-usd-converter==0.8.0 usd-exchange==3.0.1 \
		tinyobjloader==2.0.0rc13 numpy-stl==4.1.1 python-utils==4.2.0
	# robomimic's loader, to check that the Isaac Lab recorder's HDF5 opens in it (the smoke test). Its
	# declared deps (tensorboard, egl_probe, a CUDA torchvision) are not needed to read datasets.
	$(ISAACLAB_PY) -m pip install -q --no-deps robomimic==0.3.0 termcolor==3.3.0
	# The project itself, without its dependencies (they would pull newton 1.8.0).
	$(ISAACLAB_PY) -m pip install -q --no-deps -e .
	$(ISAACLAB_PY) -c "import isaaclab, isaaclab_newton, newton, warp, mujoco_usd_converter, robomimic.utils.dataset; assert newton.__version__ == '1.6.1', newton.__version__"
	touch $(ISAACLAB_STAMP)

isaaclab-venv: $(ISAACLAB_STAMP)

# A few scripted episodes in Isaac Lab, recorded to HDF5 and read back by the project (~5 min on 2 cores).
isaaclab-smoke: $(STAMP) $(ISAACLAB_STAMP)
	$(PY) -m pytest -q tests/sim_tasks/test_isaaclab_smoke.py

clean-outputs:
	rm -rf datasets/outputs outputs
