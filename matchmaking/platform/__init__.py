"""What every part stands on: settings, database, ORM models, migrations, errors, tokens, sign-
ins, logs and metrics.
"""
