#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (a parser of fuzz/fuzz_targets/parsers.rs, named
by agent_host::fuzzing::Target) from the project's fixtures.

    scripts/fuzz-seeds.py OUT_DIR

OUT_DIR/<target>/ gets one file per seed (named by the SHA-256 of its bytes, so a rerun adds
nothing twice):
  framing           the client's messages of every transcript and Codex capture, one seed per
                    file (its lines), and each message alone
  config            every transcript's configuration (fixtures/transcripts/*.toml), and the
                    same with a `-c` override after a NUL byte
  codex_app_server  what Codex's own app-server sent in every capture, after the answers to
                    the adapter's initialize, thread/start and turn/start (ids 0, 1, 2)
  codex_jsonl, claude, gemini
                    the backend lines the unit tests of each adapter feed it
                    (src/backend/<kind>.rs) and the `line` commands of the fake agent's
                    scripts (fixtures/agent-scripts/), one seed per source file; claude seeds
                    come twice, for one-shot (first byte 0) and stream-json input (first byte 1)
  acp               (and any target) the files of fuzz/seeds/<target>/, written by hand where
                    no fixture holds the format (an ACP turn: the answers to the adapter's
                    initialize, session/new and session/set_mode, updates, a permission
                    request, the prompt's answer)
"""

import glob
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def messages(path, direction):
    """The messages of one direction of a transcript or capture, as compact JSON lines."""
    found = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("dir") == direction and "msg" in entry:
                found.append(json.dumps(entry["msg"], separators=(",", ":")))
    return found


def rust_json_literals(path):
    """The raw string literals of a Rust file that hold one JSON object: `r#"{...}"#`."""
    with open(path, encoding="utf-8") as file:
        return re.findall(r'r#"(\{.*?\})"#', file.read())


def script_lines(path):
    """The payloads of a fake-agent script's `line` commands."""
    with open(path, encoding="utf-8") as file:
        return [line[len("line "):].rstrip("\n") for line in file if line.startswith("line ")]


def fixtures(pattern):
    return sorted(glob.glob(os.path.join(ROOT, pattern)))


def seeds():
    """(target, bytes) for every seed."""
    conversations = fixtures("fixtures/transcripts/*.jsonl") + fixtures(
        "fixtures/codex-captures/*.jsonl"
    )
    for path in conversations:
        sent = messages(path, "c2s")
        if sent:
            yield "framing", "\n".join(sent).encode() + b"\n"
        for message in sent:
            yield "framing", message.encode()

    for path in fixtures("fixtures/transcripts/*.toml"):
        with open(path, "rb") as file:
            text = file.read()
        yield "config", text
        yield "config", text + b'\0model="m"\0providers.x.kind="jsonl"'

    handshake = [
        '{"id":0,"result":{}}',
        '{"id":1,"result":{"thread":{"id":"th"}}}',
        '{"id":2,"result":{"turn":{"id":"tu"}}}',
    ]
    for path in fixtures("fixtures/codex-captures/*.jsonl"):
        received = [m for m in messages(path, "s2c") if '"method"' in m]
        if received:
            yield "codex_app_server", "\n".join(handshake + received).encode() + b"\n"

    sources = {
        "codex_jsonl": ["src/backend/codex_jsonl.rs"],
        "claude": ["src/backend/claude.rs", "src/backend/tool_items.rs"],
        "gemini": ["src/backend/gemini.rs"],
    }
    scripts = {
        "codex_jsonl": ["full-turn.txt", "transcript-full.txt"],
        "claude": ["claude-turn.txt"],
        "gemini": [],
    }
    for target in sources:
        groups = [rust_json_literals(os.path.join(ROOT, path)) for path in sources[target]]
        groups += [
            script_lines(os.path.join(ROOT, "fixtures/agent-scripts", name))
            for name in scripts[target]
        ]
        for lines in groups:
            if not lines:
                continue
            data = "\n".join(lines).encode() + b"\n"
            if target == "claude":
                yield target, b"\0" + data
                yield target, b"\1" + data
            else:
                yield target, data


def committed():
    """(target, bytes) for every file of fuzz/seeds/<target>/."""
    for path in fixtures("fuzz/seeds/*/*"):
        with open(path, "rb") as file:
            yield os.path.basename(os.path.dirname(path)), file.read()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    counts = {}
    for target, data in list(seeds()) + list(committed()):
        folder = os.path.join(out, target)
        os.makedirs(folder, exist_ok=True)
        name = "seed-" + hashlib.sha256(data).hexdigest()[:16]
        with open(os.path.join(folder, name), "wb") as file:
            file.write(data)
        counts[target] = counts.get(target, 0) + 1
    for target in sorted(counts):
        print(f"fuzz-seeds: {target}: {counts[target]} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
