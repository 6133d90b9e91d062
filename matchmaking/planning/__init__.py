"""From an event to a published schedule: the snapshot, the solve, jobs and their runners,
versions and publishing.
"""
