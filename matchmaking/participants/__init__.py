"""Who takes part and what they ask for: registration, the personal link, wishes, erasure."""
