"""The imperative Workflow builder: assemble a pipeline from a list of steps read at import time.

    setpoint run examples/flyte/imperative.py:pipeline --text "  Hello,   Setpoint  "

Useful when the steps come from configuration rather than from code written by hand.
"""

from __future__ import annotations

from setpoint.flytekit import Workflow, task


@task
def strip(text: str) -> str:
    return text.strip()


@task
def collapse_spaces(text: str) -> str:
    return " ".join(text.split())


@task
def lowercase(text: str) -> str:
    return text.lower()


@task
def count_chars(text: str) -> int:
    return len(text)


STEPS = [strip, collapse_spaces, lowercase]  # e.g. read from a YAML file in a real project

pipeline = Workflow(name="text_pipeline")
pipeline.add_workflow_input("text", str)
value = pipeline.inputs["text"]
for step in STEPS:
    value = pipeline.add_entity(step, text=value).outputs["o0"]
pipeline.add_workflow_output("clean", value, python_type=str)
pipeline.add_workflow_output("length", pipeline.add_entity(count_chars, text=value).outputs["o0"], python_type=int)
