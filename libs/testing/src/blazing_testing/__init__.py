"""Test support shared by every Blazing Sun test suite."""

from blazing_testing.stack import REPO_ROOT, StackEnv, control, edge_client, stack_env

__all__ = ["REPO_ROOT", "StackEnv", "control", "edge_client", "stack_env"]
