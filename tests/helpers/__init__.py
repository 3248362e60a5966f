"""Helpers shared by the test suites (importable inside attempt processes via LaunchRequest.sys_path)."""
