"""What a person uses: the command line and the Qt dashboard. Wiring and presentation only."""
