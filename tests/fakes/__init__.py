"""Stand-ins for external services, reachable on loopback only."""
