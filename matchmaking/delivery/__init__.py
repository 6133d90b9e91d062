"""What people get from a published schedule: agendas, calendar feeds, mail, exports, and the
words for the solver's keys.
"""
