"""The ``airlock`` command."""
