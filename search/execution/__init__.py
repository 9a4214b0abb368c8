"""Execution: evaluators, the jobs a worker runs, and the runners that run them (in process or on Ray)."""
