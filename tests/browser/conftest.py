"""The browser tests use ``browser`` and ``context`` (tests/support/browser.py,
registered for every directory by tests/conftest.py)."""
