"""ShellTask: run a shell script with typed inputs and a file output.

setpoint run examples/flyte/shell_tasks.py:word_stats --text "the quick brown fox jumps over the lazy dog"
"""

from __future__ import annotations

import os

from setpoint.flytekit import current_context, kwtypes, task, workflow
from setpoint.flytekit.extras.tasks.shell import OutputLocation, ShellTask
from setpoint.flytekit.types.file import FlyteFile


@task
def write_text(text: str) -> FlyteFile:
    path = os.path.join(current_context().working_directory, "input.txt")
    with open(path, "w") as f:
        f.write(text.replace(" ", "\n") + "\n")
    return FlyteFile(path)


count_words = ShellTask(
    name="count_words",
    script="""
    set -e
    sort {inputs.words} | uniq -c | sort -rn | head -n {inputs.top} > {outputs.counts}
    """,
    inputs=kwtypes(words=FlyteFile, top=int),
    output_locs=[OutputLocation(var="counts", var_type=FlyteFile, location="counts.txt")],
)


@task
def top_word(counts: FlyteFile) -> str:
    with open(counts) as f:
        first = f.readline().split()
    return f"{first[1]} x{first[0]}"


@workflow
def word_stats(text: str, top: int = 3) -> str:
    return top_word(counts=count_words(words=write_text(text=text), top=top))
