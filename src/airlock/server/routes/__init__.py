"""The Execution API's routes, one module per resource."""
