"""The benchmarked servers, one module per implementation, with the same handlers."""
