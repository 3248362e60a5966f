"""Commands for the reports tasks produce: `setpoint deck`."""

from __future__ import annotations
