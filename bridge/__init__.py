"""beatgan.bridge: the daemon, the tempo renderer, the sinks and the command line."""
