"""Prefect flows: turn a task row into work, call resources/, publish outputs and a manifest."""
