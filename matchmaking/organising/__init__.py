"""Organisers and the events they set up: lifecycle, roles, the time grid, locations and rules."""
