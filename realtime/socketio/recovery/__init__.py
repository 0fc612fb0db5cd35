"""Connection state recovery: a client that dropped comes back as if nothing happened."""
