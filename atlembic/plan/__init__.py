"""Changes -> SQL statements, one planner per dialect (base.py holds what they share); the engine registry
(atlembic.engines) picks a target's planner."""
