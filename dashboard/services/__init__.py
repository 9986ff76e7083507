"""Use cases. They flush; the request or CLI command boundary commits."""
