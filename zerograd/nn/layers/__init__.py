"""Layers, one topic a file."""
