"""Blazing Sun ops: dead letters and the ops console."""
