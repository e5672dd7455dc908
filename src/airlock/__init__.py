"""airlock: a Task SDK and task runtime for data pipelines."""
