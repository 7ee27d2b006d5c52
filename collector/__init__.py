"""Everything between a device and timestamped arrays: sources, hub, recordings, long CSV."""
