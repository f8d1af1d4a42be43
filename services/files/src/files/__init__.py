"""Blazing Sun files: uploads, chunked uploads, avatars."""
