"""Drive `mycelium serve` with the official MCP Python SDK (PyPI `mcp`), as a real client would.

Run by the Rust integration tests (tests/it/mcp_clients.rs), which own every assertion:
this script only performs what it is asked and prints, as one JSON document on standard
output, everything that came back. Two commands:

    flows.py calls --mode legacy|2026-07-28 [--elicit ANSWER] [--http URL
             --header 'Name: value'...] [--serve-arg ARG...] < STEPS_JSON

        Connects (stdio: starts the server itself; --http: to a running one), then makes
        each step's tool call in one session. The steps, read from standard input (a task of
        megabytes does not fit in an argument), are a JSON list of
        {"tool": NAME, "args": {...}, "progress": bool}; a string argument "$workflow_id"
        stands for the workflow id of the latest answer that had one. Prints
        {"protocol_version", "results": [...], "elicitations": [...]}, each result
        {"is_error", "structured", "text", "progress": [messages], "schema_errors": [what
        in "structured" the tool's output schema does not admit]} or
        {"protocol_error": {"code", "message"}} when the server answered with a JSON-RPC error.
        Each elicitation is the request's parameters plus "request_id": the JSON-RPC id of an
        `elicitation/create` request (legacy), or the key of the input request in an
        input-required result (2026-07-28).

    flows.py http-status URL < HEADER_SETS_JSON

        Plain HTTP POSTs of an `initialize` request (no SDK: urllib), one for each list of
        'Name: value' headers read from standard input, to see what the server answers a
        caller whose token or Origin is wrong. Prints [{"status", "body"}...].

The stdio server is `$MCP_TEST_BIN --policies $MCP_TEST_POLICIES serve --workspace-root
$MCP_TEST_WORKSPACE_ROOT [--serve-arg…]`, with MYCELIUM_HOME, HOME and PATH (and
MYCELIUM_LAUNCHER, LLVM_PROFILE_FILE when set) passed on from this process's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

import httpx2
import jsonschema
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client

# What the server process inherits from this one (the test sets each explicitly).
PASSED_ENV = ("MYCELIUM_HOME", "HOME", "PATH", "MYCELIUM_LAUNCHER", "LLVM_PROFILE_FILE")


def headers_of(pairs: list[str]) -> dict[str, str]:
    """'Name: value' strings as a header dict."""
    headers = {}
    for pair in pairs:
        name, _, value = pair.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def stdio_server(serve_args: list[str]) -> StdioServerParameters:
    env = os.environ
    return StdioServerParameters(
        command=env["MCP_TEST_BIN"],
        args=[
            "--policies",
            env["MCP_TEST_POLICIES"],
            "serve",
            "--workspace-root",
            env["MCP_TEST_WORKSPACE_ROOT"],
            *serve_args,
        ],
        env={k: env[k] for k in PASSED_ENV if k in env},
    )


def substitute(value: Any, workflow_id: str | None) -> Any:
    """`value` with every "$workflow_id" string replaced by the latest workflow id."""
    if value == "$workflow_id":
        if workflow_id is None:
            raise SystemExit("flows.py: a step uses $workflow_id before any answer had one")
        return workflow_id
    if isinstance(value, dict):
        return {k: substitute(v, workflow_id) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, workflow_id) for v in value]
    return value


def result_of(r: types.CallToolResult, progress: list[str]) -> dict[str, Any]:
    text = [c.text for c in r.content if isinstance(c, types.TextContent)]
    return {
        "is_error": r.is_error,
        "structured": r.structured_content,
        "text": text,
        "progress": progress,
    }


async def run_calls(args: argparse.Namespace) -> dict[str, Any]:
    elicitations: list[dict[str, Any]] = []

    async def answer(ctx: ClientRequestContext, params: types.ElicitRequestParams):
        """The human's answer to the server's consent question, as --elicit says."""
        asked = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        elicitations.append({**asked, "request_id": ctx.request_id})
        if args.elicit == "accept":
            return types.ElicitResult(action="accept", content={"grant": True})
        if args.elicit == "accept-unticked":
            return types.ElicitResult(action="accept", content={"grant": False})
        return types.ElicitResult(action="decline")

    if args.http:
        http_client = httpx2.AsyncClient(headers=headers_of(args.header), timeout=120)
        server: Any = streamable_http_client(args.http, http_client=http_client)
    else:
        http_client = None
        server = stdio_server(args.serve_arg)

    steps = json.load(sys.stdin)
    results: list[dict[str, Any]] = []
    workflow_id = None
    client = Client(
        server,
        mode=args.mode,
        elicitation_callback=answer if args.elicit else None,
        read_timeout_seconds=120,
    )
    try:
        async with client:
            # Each answer is checked against its tool's declared output schema, errors
            # included, as strict clients (the TypeScript SDK, the Inspector) do.
            listed = await client.list_tools()
            output_schemas = {t.name: t.output_schema for t in listed.tools if t.output_schema}
            for step in steps:
                progress: list[str] = []

                async def on_progress(_done: float, _total: float | None, message: str | None):
                    progress.append(message or "")

                arguments = substitute(step.get("args", {}), workflow_id)
                try:
                    r = await client.call_tool(
                        step["tool"],
                        arguments,
                        progress_callback=on_progress if step.get("progress") else None,
                    )
                except MCPError as e:
                    results.append({"protocol_error": {"code": e.code, "message": e.message}})
                    continue
                result = result_of(r, progress)
                schema = output_schemas.get(step["tool"])
                if schema is not None and r.structured_content is not None:
                    validator = jsonschema.Draft202012Validator(schema)
                    result["schema_errors"] = [
                        e.message for e in validator.iter_errors(r.structured_content)
                    ]
                results.append(result)
                if isinstance(r.structured_content, dict) and "workflow_id" in r.structured_content:
                    workflow_id = r.structured_content["workflow_id"]
            version = client.protocol_version
    finally:
        if http_client is not None:
            await http_client.aclose()
    return {"protocol_version": version, "results": results, "elicitations": elicitations}


def http_status(url: str, header_pairs: list[str]) -> dict[str, Any]:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "flows.py", "version": "1"},
            },
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    headers.update(headers_of(header_pairs))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {"status": response.status, "body": response.read().decode(errors="replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode(errors="replace")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    calls = commands.add_parser("calls", help="tool calls in one session")
    calls.add_argument("--mode", required=True, choices=["legacy", "2026-07-28"])
    calls.add_argument(
        "--elicit",
        choices=["accept", "accept-unticked", "decline"],
        help="answer consent questions so (accept: the form submitted with grant ticked)",
    )
    calls.add_argument("--http", metavar="URL", help="connect to a running server over streamable HTTP")
    calls.add_argument("--header", action="append", default=[], help="'Name: value' for every HTTP request")
    calls.add_argument("--serve-arg", action="append", default=[], help="one more `serve` argument (stdio)")

    status = commands.add_parser("http-status", help="one plain HTTP initialize request")
    status.add_argument("url")

    args = parser.parse_args()
    if args.command == "calls":
        report = asyncio.run(run_calls(args))
    else:
        report = [http_status(args.url, pairs) for pairs in json.load(sys.stdin)]
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
