"""The function write path: register, update, stage, roll back, change state, delete (`service.py`)."""
