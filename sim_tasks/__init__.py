"""Simulator backends, tasks, scripted demonstrators, rollout recording, validation replay."""
