#!/usr/bin/env python3
"""Checks that Cargo.toml's `rust-version` is what the locked dependencies really need.

Walks the locked dependency graph from hubflow with every feature on, through normal and
build dependencies (dev-dependencies are not part of what a user compiles), and compares
the highest `rust-version` those packages declare with hubflow's own. A lower one means
users on that toolchain get a build error from a dependency instead of cargo's clear
message; a higher one turns away toolchains that would work.

    python3 .ci/rust-version.py
"""

import json
import subprocess
import sys


def version(text):
    """`1.94` or `1.94.1` as a comparable tuple (missing parts are 0)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    metadata = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--locked", "--format-version", "1", "--all-features"]
        )
    )
    packages = {package["id"]: package for package in metadata["packages"]}
    nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
    root = metadata["resolve"]["root"]
    declared = packages[root].get("rust_version")
    if not declared:
        sys.exit("rust-version: Cargo.toml declares none")

    seen, stack = set(), [root]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            kinds = {kind["kind"] for kind in dep["dep_kinds"]}
            if kinds == {"dev"} or dep["pkg"] in seen:
                continue
            seen.add(dep["pkg"])
            stack.append(dep["pkg"])

    needs = [
        (version(packages[id]["rust_version"]), packages[id]["name"], packages[id]["version"])
        for id in seen
        if packages[id].get("rust_version")
    ]
    if not needs:
        sys.exit("rust-version: no locked dependency declares one")
    highest = max(needs)[0]
    at_highest = sorted(f"{name} {ver}" for need, name, ver in needs if need == highest)
    shown = ".".join(str(part) for part in highest).removesuffix(".0")
    print(
        f"rust-version: Cargo.toml says {declared}; the locked dependencies need {shown} "
        f"({', '.join(at_highest)}; {len(seen)} packages checked)"
    )
    if version(declared) != highest:
        sys.exit(
            f"rust-version: set rust-version = \"{shown}\" in Cargo.toml "
            f"(it says {declared})"
        )


if __name__ == "__main__":
    main()
