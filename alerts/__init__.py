"""Alerts: rules over the live reading stream → alerts with a lifecycle → people on duty."""
