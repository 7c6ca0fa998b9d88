"""Rendering: pure functions from the engine's results to Markdown, HTML and SVG strings."""
