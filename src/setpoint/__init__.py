"""setpoint: a declarative, level-triggered workflow orchestrator."""
