"""Schedules as pure data and pure functions: cron and fixed-rate ticks, daylight-saving rules,
catch-up policies. No clock, store or thread (checked by import-linter): the shell that fires the
ticks is `setpoint.service.scheduler`.
"""
