"""A dynamic workflow: keep refining until the value converges (recursion with a base case).

    setpoint run examples/control_flow/dynamic.py:refine --start 10.0
"""

from setpoint import dynamic, task, workflow


@task
def newton_step(x: float, target: float) -> float:
    """One Newton step towards sqrt(target)."""
    return (x + target / x) / 2


@dynamic
def converge(x: float, target: float, tolerance: float = 1e-6) -> float:
    if abs(x * x - target) <= tolerance:
        return x
    return converge(x=newton_step(x=x, target=target), target=target, tolerance=tolerance)


@workflow
def refine(start: float = 10.0, target: float = 2.0) -> float:
    return converge(x=start, target=target)
