"""What users write: DAGs, operators, TaskFlow decorators, XCom references, dependencies."""
