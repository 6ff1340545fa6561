"""`make run` (`python -m localrun`): above every other package; nothing imports it."""
