"""Turning DAGs into runs and task instances, and deciding which task instances are ready."""
