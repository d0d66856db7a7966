"""Root conftest: registers the shared fixture modules under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.hypothesis_profiles",
    "tests.fixtures.store",
    "tests.fixtures.api",
    "tests.fixtures.radicale",
    "tests.fixtures.feeds",
    "tests.fixtures.e2e",
    "tests.fixtures.chronary",
]
