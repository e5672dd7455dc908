"""The Execution API's models (shared by client and server) and the supervisor's client."""
