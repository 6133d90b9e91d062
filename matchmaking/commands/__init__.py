"""The entry points: the `matchmaking` command line and its demo."""
