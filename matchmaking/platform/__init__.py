"""What every part stands on: settings, database, ORM models, migrations, errors, tokens,
sign-ins, logs and metrics, the mail outbox, and the words for internal keys.
"""
