"""Values and their types: the type engine, literals, `File` and `Directory`.

Everything a task's inputs and outputs go through on their way into the store and back. The
public names are re-exported here; the modules underneath are free to move.
"""

from setpoint.spec.canonical import literal_hash
from setpoint.types.context import LiteralContext
from setpoint.types.engine import function_interface, type_ref
from setpoint.types.files import Directory, File
from setpoint.types.jsonvalues import literal_from_json_value, parse_cli_value, validate_literal
from setpoint.types.literals import from_literal, summarize_literal, to_literal
from setpoint.types.plain import inline_json, literal_to_plain

__all__ = [
    "Directory",
    "File",
    "LiteralContext",
    "from_literal",
    "function_interface",
    "inline_json",
    "literal_from_json_value",
    "literal_hash",
    "literal_to_plain",
    "parse_cli_value",
    "summarize_literal",
    "to_literal",
    "type_ref",
    "validate_literal",
]
