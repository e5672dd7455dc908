"""Executors: how queued task instance tries reach a supervisor (local worker or Celery)."""
