"""What runs a task: the runner<->supervisor protocol, the task runner and the supervisor."""
