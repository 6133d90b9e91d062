"""The event day and after: check-in at the venue, attendance of meetings, door lists,
feedback (above `delivery`: it works on what a published schedule delivered)."""
