"""What pnil's parts agree on: queue and task names, message shapes, statuses.

The bottom layer: it imports nothing of pnil, so every package that sends or reads a message or
a status (tasks, executions, events, store, workflows, migrations, runner, web) uses it without
pointing upwards.
"""
