"""Prefect flows and deployments: thin wrappers over library code."""
