"""What people get from a published schedule: agendas, calendar feeds, and exports."""
