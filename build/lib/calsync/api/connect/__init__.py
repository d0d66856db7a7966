"""Cronofy's authorization-code connect flow (issue #12): pages, consent, linking."""
