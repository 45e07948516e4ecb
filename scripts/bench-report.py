#!/usr/bin/env python3
"""Writes BENCHMARKS.md (on stdout) from the results directory of scripts/bench.sh.

The directory holds figures.jsonl (one JSON object per figure, written by the benches through
benches/support/figures.rs: id, ours, codex, and a note for a side without a value),
machine.env and seconds.env (key=value lines), and NAME.txt, each bench's own output.

Which figures make the report, their targets, and the cause of each known gap are declared
below, so a figure a bench stopped producing shows as "not measured" rather than vanishing.
"""

import json
import os
import sys

# (section, [(id, label, unit, decimals, target, cause of a gap)])
# target: None, ("max", v): ours <= v; ("min", v): ours >= v; ("ratio_max", r): ours/codex <= r;
# ("all", None): ours == 1 (a yes/no figure).
SECTIONS = [
    ("Start-up and memory (`protocol_front`)", [
        ("spawn_init_new_p50", "spawn → `initialize` response, new state dir, median", "ms", 2,
         ("max", 2.0),
         "process start (exec, dynamic linking, the tokio runtime and its worker threads) and "
         "the state directory's creation; see docs/benchmarks.md, \"Where the time goes\""),
        ("spawn_init_new_p90", "spawn → `initialize` response, new state dir, p90", "ms", 2, None, ""),
        ("spawn_init_existing_p50", "spawn → `initialize` response, existing state dir, median", "ms", 2, None, ""),
        ("rss_idle", "resident memory (VmRSS) after `initialize`", "MiB", 1, None, ""),
        ("private_idle", "private memory (RssAnon) after `initialize`", "MiB", 1, None, ""),
        ("rss_thread_start", "resident memory (VmRSS) after `thread/start`", "MiB", 1, ("max", 8.0),
         "most of VmRSS is the executable's own pages mapped in (file-backed, shared with every "
         "other agent-host process); the private part is the RssAnon row"),
        ("private_thread_start", "private memory (RssAnon) after `thread/start`", "MiB", 1, None, ""),
        ("rss_100_threads", "resident memory (VmRSS) with 100 threads started", "MiB", 1, None, ""),
        ("private_100_threads", "private memory (RssAnon) with 100 threads started", "MiB", 1, None, ""),
        ("thread_start_first_p50", "`thread/start`, first in the process, median", "ms", 2, None, ""),
        ("thread_start_later_p50", "`thread/start`, 2nd–4th in the process, median", "ms", 2, None, ""),
        ("thread_list_empty_p50", "`thread/list` (limit 25), nothing listed, median", "ms", 2, None, ""),
        ("thread_list_100k_first_p50", "`thread/list` 25 of 100,000 threads, first page, median", "ms", 2,
         ("max", 20.0), "answered from the SQLite index; see docs/arch/store.md"),
        ("thread_list_100k_first_p99", "`thread/list` 25 of 100,000 threads, first page, p99", "ms", 2, None, ""),
        ("thread_list_100k_middle_p50", "`thread/list` 25 of 100,000 threads, middle page (cursor), median", "ms", 2,
         ("max", 20.0), "answered from the SQLite index; see docs/arch/store.md"),
        ("thread_list_100k_middle_p99", "`thread/list` 25 of 100,000 threads, middle page, p99", "ms", 2, None, ""),
    ]),
    ("`command/exec` (`command_exec_vs_codex`)", [
        ("exec_rtt_p50", "`command/exec [\"true\"]` round trip, default sandbox, p50", "ms", 2,
         ("ratio_max", 0.2),
         "two fork+exec (the command supervisor, then the command) and the supervisor's start"),
        ("exec_rtt_p99", "`command/exec [\"true\"]` round trip, default sandbox, p99", "ms", 2, None, ""),
        ("exec_rtt_full_p50", "`command/exec [\"true\"]`, `dangerFullAccess`, p50", "ms", 2, None, ""),
        ("exec_rtt_full_p99", "`command/exec [\"true\"]`, `dangerFullAccess`, p99", "ms", 2, None, ""),
        ("exec_stream_mbps", "`command/exec` streaming stdout throughput", "MB/s", 0, ("min", 300.0),
         "base64 and the JSON escape scan of every 64 KiB delta on the server's one loop thread"),
    ]),
    ("Turns with the fake agent (`turn_events`, `turn_load`)", [
        ("turn_short_p50", "short turn, `turn/start` → `turn/completed`, p50", "ms", 2, None, ""),
        ("turn_short_p99", "short turn, `turn/start` → `turn/completed`, p99", "ms", 2, None, ""),
        ("turn_bare_backend_p50", "the same backend alone (fake agent spawn → exit), p50", "ms", 2, None, ""),
        ("turn_own_share_p50", "agent-host's own share of a short turn (the two rows above), p50", "ms", 2,
         ("max", 2.0),
         "a turn is a detached runner process (`agent-host runner`): the server writes the turn's "
         "spec, forks and execs the runner, which sets up its control socket and records, spawns the "
         "backend, and at the end reaps it, proves its process group gone and writes the synced "
         "`turnEnded` record; two process starts and several fsyncs per turn"),
        ("delta_latency_p50", "backend event → client notification, p50 (paced deltas)", "ms", 3, ("max", 1.0),
         "one delta crosses about seven threads in two processes"),
        ("delta_latency_p99", "backend event → client notification, p99 (paced deltas)", "ms", 3, ("max", 1.0),
         "the tail is wake-up latency: on 2 CPUs the fake agent, runner, server and client compete, "
         "and a wake-up waits for a time slice"),
        ("notifications_per_s", "notifications per second, one turn, end to end", "/s", 0, ("min", 200000.0),
         "CPU-bound on 2 CPUs shared by the backend, the runner, the server and the client; the "
         "server's share is JSON building per record (see docs/benchmarks.md)"),
        ("server_cpu_per_notification_us", "server CPU time per notification", "µs", 1, None, ""),
        ("interrupt_p50", "`turn/interrupt` → `turn/completed` (backend proven dead), p50", "ms", 2,
         ("max", 50.0), "the runner's interrupt path: SIGINT, wait for the group to be empty, records"),
        ("interrupt_p99", "`turn/interrupt` → `turn/completed` (backend proven dead), p99", "ms", 2, None, ""),
        ("concurrent_all_completed", "200 concurrent turns: all completed", "yes/no", 0, ("all", None),
         "a turn did not complete; see the turn_load output below"),
        ("concurrent_completed", "200 concurrent turns: turns completed", "turns", 0, None, ""),
        ("concurrent_peak_rss", "200 concurrent turns: server peak resident memory (VmHWM)", "MiB", 1,
         ("max", 64.0), "per-turn state held by the server while the turns run"),
        ("concurrent_notifications_per_s", "200 concurrent turns: notifications per second", "/s", 0, None, ""),
        ("concurrent_elapsed_ms", "200 concurrent turns: first `turn/start` → last `turn/completed`", "ms", 0, None, ""),
    ]),
    ("A turn on the real Codex backend (`turn_vs_codex`)", [
        ("real_turn_end_p50", "message turn, `turn/start` → `turn/completed`, median", "ms", 1, None, ""),
        ("real_turn_first_delta_p50", "message turn, `turn/start` → first `item/agentMessage/delta`, cold, median", "ms", 1,
         None, ""),
        ("real_turn_warm_first_delta_p50", "message turn, `turn/start` → first `item/agentMessage/delta`, warm spare, median", "ms", 1,
         ("ratio_max", 1.2),
         "the spare hides the process start and sends `initialize` and `thread/start` ahead, "
         "but Codex's first turn on a thread costs it 30-40 ms more than a later turn, and only "
         "a turn (with its prompt) makes it pay that; plus the records of a turn's start "
         "(docs/benchmarks.md, turn_vs_codex results)"),
        ("real_turn_warm_end_p50", "message turn, `turn/start` → `turn/completed`, warm spare, median", "ms", 1, None, ""),
        ("real_turn_started_p50", "message turn, `turn/start` → `turn/started`, median", "ms", 1, None, ""),
        ("real_turn_own_share_p50", "message turn, agent-host's own share (turn − the backend's time in it), median", "ms", 1,
         ("max", 2.0),
         "as for the fake agent: the detached runner's start, the records and the proof of "
         "death; measured from the turn's wall-clock records (±1 ms)"),
        ("real_tool_turn_end_p50", "tool turn, `turn/start` → `turn/completed`, median", "ms", 1, None, ""),
        ("real_tool_turn_first_delta_p50", "tool turn, `turn/start` → first delta, median", "ms", 1, None, ""),
        ("real_tool_turn_own_share_p50", "tool turn, agent-host's own share, median", "ms", 1, None, ""),
    ]),
]

METHOD = """\
Every figure comes from one run of `scripts/bench.sh`, which runs each bench binary
(`cargo bench --bench NAME`, release profile) one after another on the same machine. Both
servers are started the way a client starts them (stdio pipes, newline-delimited JSON-RPC),
each on a new temporary state directory with a cleared environment (`HOME`, `XDG_*` and
`CODEX_HOME` inside the temporary tree); the real `codex app-server` gets the quiet offline
configuration of the reference captures (a loopback model provider, no retries, no plugins,
apps, analytics or update check). Nothing leaves the loopback interface. A reader thread stamps
every line of a server's stdout as it is read; medians and nearest-rank percentiles.

- `protocol_front`: spawn → `initialize` response over 20 new and 20 existing state
  directories per server; memory from `/proc/PID/status` (VmRSS: resident; RssAnon: private
  anonymous memory) after `initialize`, after the first `thread/start`, and after 100
  `thread/start`s; `thread/list` over 100,000 threads stored through the library (Codex lists
  rollout files that only real model turns write, so it has no such figure).
- `command_exec_vs_codex`: 500 `command/exec ["true"]` round trips per sandbox setting, then
  200 MB streamed from `head -c … /dev/zero` with `streamStdoutStderr`.
- `turn_events` (fake agent): 10,000 deltas paced one per 500 µs, latency = client read time −
  the fake agent's `CLOCK_MONOTONIC` stamp; three floods of 100,000 messages (300,000
  notifications each), notifications per second from the first to the last.
- `turn_load` (fake agent): 200 short turns one after another and the same script run bare
  (agent-host's own share = the difference of the medians); 20 interrupts of a sleeping
  backend; 200 threads each starting a turn of 50 messages at once.
- `turn_vs_codex`: the same turns against a loopback mock of the Responses API, on `codex
  app-server` itself and on agent-host with a `codex` provider (`codex exec --json` per turn),
  20 message turns and 20 tool turns after one untimed turn each.
- `runner`, `thread_list_store`: the runner and the store alone (agent-host only).

The fake agent cannot run behind `codex app-server` (it has no pluggable backend), so the
fake-agent figures have no Codex column. The ratio is agent-host ÷ Codex: below 1 is faster
(or smaller) for times and memory, above 1 is more for throughput. Details of each method and
where the time goes: [docs/benchmarks.md](docs/benchmarks.md)."""


def read_env(path):
    values = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.rstrip("\n").partition("=")
                if key:
                    values[key] = value
    return values


def read_figures(path):
    figures = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                figure = json.loads(line)
                figures[figure["id"]] = figure
    return figures


def number(value, decimals, unit):
    if unit == "yes/no":
        return "yes" if value == 1 else "no"
    text = f"{value:,.{decimals}f}"
    return text


def short(note):
    """The first line of a note, shortened for a table cell."""
    note = (note or "not measured").splitlines()[0].replace("|", "/")
    return note if len(note) <= 90 else note[:87] + "…"


def target_text(target, unit):
    if target is None:
        return ""
    kind, value = target
    if kind == "max":
        return f"≤ {value:g} {unit}"
    if kind == "min":
        return f"≥ {value:,.0f} {unit}"
    if kind == "ratio_max":
        return f"≤ {value:g} × Codex"
    return "all"


def verdict(target, ours, codex, cause):
    """(met?, text) for a figure with a target; None without one."""
    if target is None:
        return None
    kind, value = target
    if ours is None:
        return (False, "not measured")
    if kind == "max":
        met = ours <= value
    elif kind == "min":
        met = ours >= value
    elif kind == "ratio_max":
        if codex is None or codex == 0:
            return (False, "no Codex figure to compare with")
        met = ours / codex <= value
    else:
        met = ours == 1
    return (True, "met") if met else (False, f"**gap**: {cause}")


def render_section(title, rows, figures, summary):
    out = [f"### {title}", "",
           "| figure | agent-host | codex app-server | ratio | target | status |",
           "|---|---|---|---|---|---|"]
    for fid, label, unit, decimals, target, cause in rows:
        figure = figures.get(fid, {})
        ours, codex = figure.get("ours"), figure.get("codex")
        ours_cell = (number(ours, decimals, unit) if ours is not None
                     else short(figure.get("ours_note")))
        codex_cell = (number(codex, decimals, unit) if codex is not None
                      else short(figure.get("codex_note")))
        if ours is not None and unit != "yes/no":
            ours_cell += f" {unit}"
        if codex is not None and unit != "yes/no":
            codex_cell += f" {unit}"
        ratio = f"{ours / codex:.2f}" if ours is not None and codex else ""
        judged = verdict(target, ours, codex, cause)
        status = judged[1] if judged else ""
        if judged:
            summary.append((label, target_text(target, unit), judged[0]))
        out.append(f"| {label} | {ours_cell} | {codex_cell} | {ratio} | "
                   f"{target_text(target, unit)} | {status} |")
    return out


def main():
    results = sys.argv[1]
    machine = read_env(os.path.join(results, "machine.env"))
    seconds = read_env(os.path.join(results, "seconds.env"))
    figures = read_figures(os.path.join(results, "figures.jsonl"))
    summary = []
    body = []
    for title, rows in SECTIONS:
        body += render_section(title, rows, figures, summary) + [""]

    out = ["# Benchmarks", "",
           "Generated by `scripts/bench.sh` (do not edit by hand; run it again). "
           "Method and analysis: [docs/benchmarks.md](docs/benchmarks.md).", ""]
    if machine.get("quick") == "1":
        out += ["**QUICK RUN** (`scripts/bench.sh --quick`): small counts that check the "
                "harness; not a measurement.", ""]
    out += ["## Machine and versions", "",
            f"- date: {machine.get('date', '?')}",
            f"- CPU: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs; "
            f"memory {machine.get('memory', '?')}; {machine.get('kernel', '?')}",
            f"- load average (1, 5, 15 min): {machine.get('load_start', '?')} at the start, "
            f"{machine.get('load_end', '?')} at the end",
            f"- agent-host: {machine.get('agent_host', '?')}, commit {machine.get('commit', '?')}; "
            f"{machine.get('rustc', '?')}",
            f"- codex: {machine.get('codex', '?')} (`codex app-server`, npm `@openai/codex`, "
            "pinned and installed by `scripts/install-test-deps.sh`)",
            f"- run time: {machine.get('seconds', '?')} s ("
            + ", ".join(f"{name} {secs} s" for name, secs in seconds.items()) + ")",
            ""]
    met = sum(1 for _, _, ok in summary if ok)
    out += ["## Targets", "", f"{met} of {len(summary)} targets met in this run.", "",
            "| target | | met |", "|---|---|---|"]
    out += [f"| {label} | {target} | {'yes' if ok else 'no'} |" for label, target, ok in summary]
    out += ["", "## Method", "", METHOD, "", "## Figures", ""] + body
    out += ["## Raw output of each bench", ""]
    for name in seconds:
        path = os.path.join(results, f"{name}.txt")
        text = open(path, encoding="utf-8").read().rstrip() if os.path.exists(path) else "(none)"
        # No path of the machine that ran it: the checkout is ".".
        text = text.replace(os.getcwd(), ".")
        out += [f"<details><summary><code>{name}</code></summary>", "", "```text", text, "```",
                "", "</details>", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
