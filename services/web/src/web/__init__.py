"""Blazing Sun web pages."""
