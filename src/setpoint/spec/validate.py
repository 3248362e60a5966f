"""Validation of a whole workflow spec (shared by the compiler and the JSON loader).

Everything a spec must satisfy before an execution may pin it and that no single part can
check alone: every wire's type against what it is bound to, branch scopes, gates, launch plans,
map inputs, the on_failure task, and the absence of cycles. Pure functions over a `WorkflowSpec`;
`WorkflowSpec.from_json` and the compiler both end by calling `validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.spec.bindings import Binding, show_path
from setpoint.spec.branch import Otherwise, validate_expr
from setpoint.spec.configs import ApproveGate, BranchConfig, LaunchPlanConfig, MapConfig, SignalGate, SleepGate
from setpoint.spec.model import SIGNAL_NAME_RE, TaskSpec, check_name
from setpoint.spec.nodes import NodeSpec
from setpoint.spec.types import TypeKind, TypeRef, is_assignable

if TYPE_CHECKING:  # the workflow module imports this one; validation only reads a spec
    from setpoint.spec.workflow import WorkflowSpec


def binding_type(spec: WorkflowSpec, b: Binding, where: str) -> TypeRef | None:
    """The static type a binding produces, or None for a literal (checked when converted)."""
    base = _base_type(spec, b, where)
    if base is None or not b.path:
        return base
    return path_type(base, b.path, where)


def path_type(t: TypeRef, path: Sequence[str | int], where: str) -> TypeRef:
    """The type reached by taking ``path``'s steps into a value of type ``t`` (compile-time check)."""
    for i, step in enumerate(path):
        here = f"{where}: {t}" if i == 0 else f"{where}: {show_path(tuple(path[:i]))} ({t})"
        if t.kind is TypeKind.ANY:
            return t
        if t.kind is TypeKind.STRUCT and isinstance(step, str):
            fields = dict(t.fields)
            if step not in fields:
                raise TypeMismatchError(f"{here} has no field '{step}' (fields: {', '.join(fields) or 'none'})")
            t = fields[step]
        elif (t.kind is TypeKind.LIST and isinstance(step, int)) or (t.kind is TypeKind.DICT and isinstance(step, str)):
            t = t.args[0]
        elif t.is_optional:
            raise TypeMismatchError(
                f"{here} may be None, so {show_path((step,))} may not exist; "
                "pass the value to a task that checks for None"
            )
        elif isinstance(step, int):
            raise TypeMismatchError(f"{here} cannot be indexed with [{step}] (only lists can)")
        else:
            what = "dict keys are strings" if t.kind is TypeKind.DICT else "only dataclasses and dicts have them"
            raise TypeMismatchError(f"{here} has no field or key '{step}' ({what})")
    return t


def literal_type(lit: object) -> TypeRef | None:
    """The type of a scalar literal (a constant bound to a branch operand), or None if not a scalar."""
    if isinstance(lit, bool):
        return TypeRef(TypeKind.BOOL)
    if isinstance(lit, int):
        return TypeRef(TypeKind.INT)
    if isinstance(lit, float):
        return TypeRef(TypeKind.FLOAT)
    if isinstance(lit, str):
        return TypeRef(TypeKind.STR)
    if lit is None:
        return TypeRef(TypeKind.NONE)
    if isinstance(lit, dict) and len(lit) == 1:
        tag = next(iter(lit))
        kinds = {"$float": TypeKind.FLOAT, "$datetime": TypeKind.DATETIME, "$timedelta": TypeKind.TIMEDELTA}
        if tag in kinds:
            return TypeRef(kinds[tag])
    return None


def _base_type(spec: WorkflowSpec, b: Binding, where: str) -> TypeRef | None:
    if b.is_literal:
        return None
    if b.input is not None:
        var = spec.interface.input_map.get(b.input)
        if var is None:
            raise SpecError(f"{where}: unknown workflow input '{b.input}'")
        return var.type
    if b.node is not None:
        node = spec.node_map.get(b.node)
        if node is None:
            raise SpecError(f"{where}: unknown node '{b.node}'")
        outputs = spec.node_outputs(node)
        out = outputs.get(b.output or "")
        if out is None:
            known = ", ".join(outputs) or "none"
            raise SpecError(f"{where}: node '{b.node}' has no output '{b.output}' (outputs: {known})")
        return out
    if b.select is not None:
        branch_id, cases = b.select
        branch = spec.node_map.get(branch_id)
        if branch is None or not isinstance(branch.config, BranchConfig):
            raise SpecError(f"{where}: '{branch_id}' is not a branch node")
        conds = branch.config.conditions
        if len(cases) != len(conds):
            raise SpecError(f"{where}: branch '{branch_id}' has {len(conds)} cases, the binding {len(cases)}")
        if branch.config.otherwise is Otherwise.NONE:
            raise SpecError(
                f"{where}: uses the result of branch '{branch_id}', which has no else_(): "
                "when no case matches there is no value; add .else_().then(...) or .else_().fail(...)"
            )
        typed = [(i, binding_type(spec, c, f"{where}, case {i}")) for i, c in enumerate(cases) if c is not None]
        cases_typed: list[tuple[int, TypeRef]] = [(i, t) for i, t in typed if t is not None]
        for i, t in cases_typed[1:]:
            if t != cases_typed[0][1]:
                raise TypeMismatchError(
                    f"branch '{branch_id}': every case must produce the same type; "
                    f"case {cases_typed[0][0]} gives {cases_typed[0][1]}, case {i} gives {t}"
                )
        return cases_typed[0][1] if cases_typed else None
    if b.items is not None:
        types = [binding_type(spec, x, f"{where}[{i}]") for i, x in enumerate(b.items)]
        found = [t for t in types if t is not None]
        if not found:
            return None
        return TypeRef.list_of(TypeRef.union(*found))
    if b.entries is not None:
        types = [binding_type(spec, x, f"{where}.{k}") for k, x in b.entries]
        found = [t for t in types if t is not None]
        if not found:
            return None
        return TypeRef.dict_of(TypeRef.union(*found))
    raise SpecError(f"{where}: empty binding")


def check_binding(spec: WorkflowSpec, b: Binding, target: TypeRef, where: str) -> None:
    """Type-check a binding against the type it is bound to; collections are checked per item."""
    if b.path:  # a step into a value: its type is what the path reaches
        actual = binding_type(spec, b, where)
        if actual is not None and not is_assignable(actual, target):
            raise TypeMismatchError(f"{where}: expected {target}, got {actual} ({show_path(b.path)})")
        return
    if b.items is not None and target.kind is TypeKind.LIST:
        for i, x in enumerate(b.items):
            check_binding(spec, x, target.args[0], f"{where}[{i}]")
        return
    if b.entries is not None and target.kind is TypeKind.DICT:
        for k, x in b.entries:
            check_binding(spec, x, target.args[0], f"{where}.{k}")
        return
    if (b.items is not None or b.entries is not None) and target.kind is TypeKind.UNION:
        for variant in target.args:
            try:
                check_binding(spec, b, variant, where)
                return
            except TypeMismatchError:
                continue
    actual = binding_type(spec, b, where)
    if actual is not None and not is_assignable(actual, target):
        raise TypeMismatchError(f"{where}: expected {target}, got {actual}")


def validate(spec: WorkflowSpec) -> None:
    """Everything a spec must satisfy before any execution may pin it."""
    where = f"workflow '{spec.name}'"
    seen: set[str] = set()
    for n in spec.nodes:
        if n.id in seen:
            raise SpecError(f"{where}: duplicate node id '{n.id}'")
        seen.add(n.id)
    signal_names: set[str] = set()
    for n in spec.nodes:
        nwhere = f"{where}, node '{n.id}'"
        _check_scope(spec, n, nwhere)
        config = n.config
        if config is not None:
            config.check(nwhere)
        if isinstance(config, BranchConfig):
            _check_branch(spec, n, config, nwhere)
            continue
        if isinstance(config, SleepGate | ApproveGate | SignalGate):
            _check_gate(spec, n, config, nwhere, signal_names)
            continue
        if isinstance(config, LaunchPlanConfig):
            _check_launchplan(spec, n, config, nwhere)
            continue
        task = spec.tasks.get(n.task)
        if task is None:
            raise SpecError(f"{nwhere}: unknown task '{n.task}'")
        if isinstance(config, MapConfig):
            _check_map(task, config, nwhere)
        declared = spec.node_input_types(n)
        bound = dict(n.inputs)
        for name in bound:
            if name not in declared:
                raise SpecError(
                    f"{nwhere}: unknown input '{name}' (task '{task.name}' takes: {', '.join(declared) or 'none'})"
                )
        for name, var in declared.items():
            if name not in bound:
                if not var.has_default:
                    raise SpecError(f"{nwhere}: missing input '{name}' ({var.type})")
                continue
            check_binding(spec, bound[name], var.type, f"{nwhere}, input '{name}'")
        for a in n.after:
            if a not in spec.node_map:
                raise SpecError(f"{nwhere}: unknown node '{a}' in 'after'")
    declared_outs = spec.interface.output_map
    bound_outs = dict(spec.outputs)
    if set(declared_outs) != set(bound_outs):
        raise SpecError(
            f"{where}: outputs bound ({', '.join(bound_outs) or 'none'}) do not match the interface "
            f"({', '.join(declared_outs) or 'none'})"
        )
    for name, b in spec.outputs:
        check_binding(spec, b, declared_outs[name], f"{where}, output '{name}'")
        _check_refs(spec, b, (), f"{where}, output '{name}'")
    if spec.on_failure is not None:
        _check_on_failure(spec, where)
    cycle = find_cycle(spec)
    if cycle:
        raise SpecError(f"{where}: cycle between nodes {' -> '.join(cycle)}")


# The parameters an on_failure task may take the error in: flytekit's name, and setpoint's.
ERROR_PARAMS = ("err", "error")
# The fields of the error's struct form (flytekit's FlyteError; setpoint's WorkflowError).
ERROR_FIELDS = ("message", "failed_node_id")


def error_param_form(t: TypeRef) -> str | None:
    """How an on_failure task's error parameter of type ``t`` takes the error: "str", "struct" or None (cannot).

    ``Optional[...]`` of either form is accepted (flytekit declares ``err: Optional[FlyteError] = None``).
    A struct takes the error when its fields are a subset of ``message`` and ``failed_node_id``, all str.
    """
    if t.kind is TypeKind.UNION:
        forms = {error_param_form(a) for a in t.args if a.kind is not TypeKind.NONE}
        return forms.pop() if len(forms) == 1 else None
    if t.kind in (TypeKind.STR, TypeKind.ANY):
        return "str"
    if t.kind is TypeKind.STRUCT and all(n in ERROR_FIELDS and f.kind is TypeKind.STR for n, f in t.fields):
        return "struct"
    return None


def _check_on_failure(spec: WorkflowSpec, where: str) -> None:
    task = spec.tasks.get(spec.on_failure or "")
    if task is None:
        raise SpecError(f"{where}: on_failure names unknown task '{spec.on_failure}'")
    offered = {n: v.type for n, v in spec.interface.inputs}
    for name, var in task.interface.inputs:
        if name in ERROR_PARAMS and name not in offered:
            if error_param_form(var.type) is None:
                raise TypeMismatchError(
                    f"{where}: on_failure task '{task.name}', input '{name}' receives the error: declare it "
                    f"str or WorkflowError (flytekit's FlyteError), optionally Optional[...], not {var.type}"
                )
            continue
        if name not in offered:
            if var.has_default:
                continue
            raise SpecError(
                f"{where}: on_failure task '{task.name}' takes '{name}', but it receives only 'error' "
                f"(or 'err'; str or WorkflowError) and the workflow's inputs "
                f"({', '.join(n for n, _ in spec.interface.inputs) or 'none'})"
            )
        if not is_assignable(offered[name], var.type):
            raise TypeMismatchError(
                f"{where}: on_failure task '{task.name}', input '{name}': expected {var.type}, got {offered[name]}"
            )


def _check_launchplan(spec: WorkflowSpec, n: NodeSpec, config: LaunchPlanConfig, where: str) -> None:
    child = spec.launchplans[n.id]
    fixed, defaults = config.fixed, config.defaults
    declared = child.interface.input_map
    for name in (*fixed, *defaults):
        if name not in declared:
            raise SpecError(f"{where}: launch plan '{config.launchplan}' sets unknown input '{name}'")
    bound = dict(n.inputs)
    for name, b in bound.items():
        if name not in declared:
            raise SpecError(f"{where}: unknown input '{name}' (workflow '{child.name}' takes: {', '.join(declared)})")
        if name in fixed:
            raise SpecError(f"{where}: input '{name}' is fixed by launch plan '{config.launchplan}'")
        check_binding(spec, b, declared[name].type, f"{where}, input '{name}'")
    for name, var in declared.items():
        if name not in bound and name not in fixed and name not in defaults and not var.has_default:
            raise SpecError(f"{where}: missing input '{name}' ({var.type})")


def _check_gate(
    spec: WorkflowSpec, n: NodeSpec, config: SleepGate | ApproveGate | SignalGate, where: str, signal_names: set[str]
) -> None:
    inputs = dict(n.inputs)
    if isinstance(config, SleepGate):
        if inputs:
            raise SpecError(f"{where}: a sleep gate takes no inputs")
        return
    name = check_name(config.name, f"signal name in {where}", pattern=SIGNAL_NAME_RE)
    if name in signal_names:
        raise SpecError(f"{where}: two gates wait for the signal '{name}'; signal names must be unique")
    signal_names.add(name)
    if isinstance(config, ApproveGate):
        if set(inputs) != {"value"}:
            raise SpecError(f"{where}: an approve gate takes exactly one input, 'value' (what it lets through)")
        binding_type(spec, inputs["value"], f"{where}, input 'value'")
    elif inputs:
        raise SpecError(f"{where}: a wait_for_input gate takes no inputs")


def _check_map(task: TaskSpec, config: MapConfig, where: str) -> None:
    for name in config.over:
        if name not in task.interface.input_map:
            raise SpecError(f"{where}: maps over '{name}', which task '{task.name}' does not take")


def _check_branch(spec: WorkflowSpec, n: NodeSpec, config: BranchConfig, where: str) -> None:
    types: dict[str, TypeRef] = {}
    for name, b in n.inputs:
        t = binding_type(spec, b, f"{where}, operand '{name}'")
        if t is None and b.is_literal and not b.path:  # an inlined subworkflow's input bound to a constant
            t = literal_type(b.literal)
        types[name] = t if t is not None else TypeRef(TypeKind.ANY)
    for i, cond in enumerate(config.conditions):
        validate_expr(cond, types, f"{where}, case {i}")


def _scopes(spec: WorkflowSpec, case_of: tuple[str, int] | None) -> list[tuple[str, int]]:
    """The chain of branch cases a node runs under, innermost first."""
    chain: list[tuple[str, int]] = []
    while case_of is not None and case_of not in chain:
        chain.append(case_of)
        branch = spec.node_map.get(case_of[0])
        case_of = branch.case_of if branch is not None else None
    return chain


def _check_scope(spec: WorkflowSpec, n: NodeSpec, where: str) -> None:
    if n.case_of is not None:
        branch = spec.node_map.get(n.case_of[0])
        if branch is None or not isinstance(branch.config, BranchConfig):
            raise SpecError(f"{where}: 'case_of' names '{n.case_of[0]}', which is not a branch node")
        cases = len(branch.config.conditions)
        if not 0 <= n.case_of[1] < cases:
            raise SpecError(f"{where}: branch '{n.case_of[0]}' has no case {n.case_of[1]}")
    scopes = _scopes(spec, n.case_of)
    for name, b in n.inputs:
        _check_refs(spec, b, scopes, f"{where}, input '{name}'")


def _check_refs(spec: WorkflowSpec, b: Binding, scopes: Sequence[tuple[str, int]], where: str) -> None:
    """A node that runs only in one branch case can be used directly only inside that case."""
    if b.node is not None:
        target = spec.node_map.get(b.node)
        if target is not None and target.case_of is not None and target.case_of not in scopes:
            raise SpecError(
                f"{where}: uses node '{b.node}', which runs only when branch '{target.case_of[0]}' takes case "
                f"{target.case_of[1]}; use the conditional's result instead"
            )
    for child in b.items or ():
        _check_refs(spec, child, scopes, where)
    for _, child in b.entries or ():
        _check_refs(spec, child, scopes, where)


def find_cycle(spec: WorkflowSpec) -> list[str] | None:
    """Return one cycle as a node path (first node repeated at the end), or None. Iterative DFS."""
    white, grey, black = 0, 1, 2
    color = {n.id: white for n in spec.nodes}
    up = spec.upstream
    for root, root_color in list(color.items()):
        if root_color != white or color[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = grey
                path.append(node)
            deps = up[node]
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if color[nxt] == grey:
                    start = path.index(nxt)
                    return [*path[start:], nxt][::-1]
                if color[nxt] == white:
                    stack.append((nxt, 0))
            else:
                color[node] = black
                path.pop()
    return None
