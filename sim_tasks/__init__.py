"""Simulator backends, tasks, scripted demonstrators, rollout recording.

    from sim_tasks.rollout import TaskRunner, run_rollouts
    summary = run_rollouts("scene.usda", "pick_place", seeds=range(50), out_root="out/pick_place", workers=2)

Modules (heavy dependencies -- newton, warp, pxr, isaaclab -- load inside functions):
    backend          SimBackend interface, action/observation layout
    newton_backend   embedded simulator: Newton + MuJoCo C backend, the scene USD and the Panda
    isaaclab_spec    Isaac Lab 3 task spec and boundary conversions (no Isaac Lab needed)
    isaaclab_env     Isaac Lab 3 manager-based env, demo recording, replay backend (Isaac Lab venv)
    isaaclab_assets  per-env USD assets cut from the scene USD (no PhysicsScene inside envs)
    isaaclab_robot   the Panda MJCF converted to a USD articulation (mujoco-usd-converter)
    isaaclab_cli     `.venv-isaaclab/bin/python -m sim_tasks.isaaclab_cli record|replay`
    isaaclab_crosscheck  same seed and actions: embedded sim vs Isaac Lab (main venv, subprocess)
    panda_model      the Panda MJCF from the gymnasium-robotics wheel
    kinematics       damped-least-squares IK on newton.eval_fk
    workspace        support surface and reachable placements
    tasks            pick_place, pick_place_bowl, push (registry by name)
    demonstrator     scripted policies: shared motion and phases (ScriptedDemonstrator)
    pick_place_policy, push_policy   each task's own scripted policy (Task.policy)
    rendering        camera images from body-bound Gaussians (gwm.render.rasterize)
    rollout          episodes, recording (gwm.data), parallel rollouts, preview videos
    demo_scene       a synthetic tabletop scene in the scene USD layout
"""
