"""Operator tools: the command line, backup and restore, day-two operations and the schema."""
