"""The pgmq queues and the task names their messages carry (the migrator creates the queues)."""

from __future__ import annotations

COMPILATION_JOBS = "compilation_jobs"
COMPILATION_RESULTS = "compilation_results"
EXECUTIONS = "executions"
EVENTS = "events"
# Every queue a task is declared on.
QUEUES = (COMPILATION_JOBS, COMPILATION_RESULTS, EXECUTIONS, EVENTS)

COMPILE_TASK = "compile_function"
APPLY_RESULT_TASK = "apply_compilation_result"
RUN_EXECUTION_TASK = "run_execution"
DISPATCH_EVENT_TASK = "dispatch_event"
