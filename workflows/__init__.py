"""Workflows: canvases (chain, group, chord) of functions whose steps are queued executions."""
