"""The dependency rules that `make lint` does not already check: no import cycle between modules.

import-linter (pyproject.toml) checks the layers' direction; a cycle inside one layer (two
services importing each other, a service and its Celery task) would pass it, so the module graph
is checked for cycles here. Function-level imports count: a lazy import is still a dependency.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("conversations", "knowledge", "guardrails", "webhooks", "demoshop", "supportbot")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def _import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_module_imports_itself_back_through_others(graph):
    modules = {m for m in graph.modules if ".migrations" not in m}
    assert _import_cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: two modules that import each other are reported."""
    graph = grimp.build_graph("conversations")
    graph.add_import(importer="conversations.lib.hours", imported="conversations.core.protocol")
    graph.add_import(importer="conversations.core.protocol", imported="conversations.lib.hours")
    cycles = _import_cycles(graph, {m for m in graph.modules if m.startswith("conversations.")})
    assert any({"conversations.core.protocol", "conversations.lib.hours"} <= set(cycle) for cycle in cycles)


def test_the_knowledge_base_and_the_guardrails_do_not_depend_on_each_other_both_ways(graph):
    assert graph.chain_exists(importer="guardrails", imported="knowledge", as_packages=True) is False
