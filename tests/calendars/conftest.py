"""Calendar test fixtures shared by the test modules."""

from tests.calendars.test_http import world  # noqa: F401  (a fixture of several modules)
