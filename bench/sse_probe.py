#!/usr/bin/env python3
"""Time-to-first-byte probe for streamed (SSE) chat completions.

Sends N sequential `"stream": true` requests on one keep-alive connection and measures, per
request, from the moment the request is written:
  ttfb         first byte of the response (status line)
  first_event  first `data:` line of the body (what a chat UI waits for)
  total        the terminating chunk of the chunked body
It speaks raw HTTP/1.1 over a socket so the client adds as little as possible, and it checks
every answer (status 200, text/event-stream, at least one data event, `data: [DONE]` at the end).

  python3 bench/sse_probe.py --url http://127.0.0.1:PORT --n 200 --mode miss --nonce abc

--mode miss: every prompt is unique (through Parrot: a MISS relayed from the upstream)
--mode hit:  prompts cycle through --hitset fixed prompts (prime them first: --prime)
Prints one JSON object (milliseconds).
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
import urllib.parse


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict:
    return {
        "p50": round(percentile(values, 50), 4),
        "p90": round(percentile(values, 90), 4),
        "p99": round(percentile(values, 99), 4),
        "mean": round(statistics.fmean(values), 4) if values else None,
        "min": round(min(values), 4) if values else None,
    }


def stream_body(prompt: str) -> bytes:
    return json.dumps(
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": prompt}]},
        separators=(",", ":"),
    ).encode()


class Connection:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by peer")
        return data

    def request(self, path: str, body: bytes) -> dict:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
            f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        clock = time.perf_counter_ns
        start = clock()
        self.sock.sendall(head + body)
        first_byte = None
        buf = self.buffer
        while b"\r\n\r\n" not in buf:
            data = self._recv()
            if first_byte is None:
                first_byte = clock()
            buf += data
        if first_byte is None:  # left over from the previous answer (never with a sane server)
            first_byte = clock()
        raw_head, buf = buf.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()

        body_out = bytearray()
        first_event = None
        closes = headers.get("connection", "").lower() == "close"

        def note_event() -> None:
            nonlocal first_event
            if first_event is None and b"data:" in body_out:
                first_event = clock()

        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in buf:
                    buf += self._recv()
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    buf += self._recv()
                if size == 0:
                    # no trailers expected; consume the final CRLF
                    buf = buf[2:]
                    break
                body_out += buf[:size]
                buf = buf[size + 2:]
                note_event()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            while len(buf) < length:
                buf += self._recv()
            body_out = bytearray(buf[:length])
            buf = buf[length:]
            note_event()
        else:
            closes = True
            try:
                while True:
                    buf += self._recv()
            except ConnectionError:
                pass
            body_out = bytearray(buf)
            buf = b""
            note_event()
        done = clock()
        self.buffer = buf
        if closes:
            self.close()
        text = bytes(body_out)
        events = text.count(b"data:")
        ok = (
            status == 200
            and headers.get("content-type", "").startswith("text/event-stream")
            and events > 1
            and text.rstrip().endswith(b"data: [DONE]")
        )
        ms = 1e-6
        return {
            "ok": ok,
            "status": status,
            "ttfb": (first_byte - start) * ms,
            "first_event": ((first_event or done) - start) * ms,
            "total": (done - start) * ms,
            "events": events,
            "cache": headers.get("x-parrot-cache"),
        }


def run(url: str, n: int, mode: str, nonce: str, hitset: int, warmup: int = 20, timeout: float = 10.0,
        raw: bool = False) -> dict:
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    path = "/v1/chat/completions"
    conn = Connection(host, port, timeout)
    results = {"ttfb": [], "first_event": [], "total": []}
    failures = 0
    events = []
    cache_values: dict[str, int] = {}
    try:
        for i in range(warmup + n):
            prompt = f"bench sse hit prompt number {i % hitset}" if mode == "hit" else f"bench sse miss {nonce} n{i}"
            try:
                r = conn.request(path, stream_body(prompt))
            except (OSError, ValueError, IndexError) as error:
                conn.close()
                if i >= warmup:
                    failures += 1
                print(f"sse_probe: request failed: {error}", file=sys.stderr)
                continue
            if i < warmup:
                continue
            if not r["ok"]:
                failures += 1
            cache_values[str(r["cache"])] = cache_values.get(str(r["cache"]), 0) + 1
            events.append(r["events"])
            for key in results:
                results[key].append(r[key])
    finally:
        conn.close()
    out = {
        "url": url,
        "mode": mode,
        "n": n,
        "failures": failures,
        "events_per_answer": statistics.median(events) if events else 0,
        "x_parrot_cache": cache_values,
        "ttfb_ms": summary(results["ttfb"]),
        "first_event_ms": summary(results["first_event"]),
        "total_ms": summary(results["total"]),
    }
    if raw:
        out["raw"] = results
    return out


def prime(url: str, hitset: int, timeout: float) -> None:
    """Sends each hit prompt once (a MISS that fills the cache)."""
    run(url, hitset, "hit", "prime", hitset, warmup=0, timeout=timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mode", choices=["miss", "hit"], default="miss")
    parser.add_argument("--nonce", default=str(time.time_ns()))
    parser.add_argument("--hitset", type=int, default=16)
    parser.add_argument("--prime", action="store_true", help="send the hit set once first")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    if args.prime:
        prime(args.url, args.hitset, args.timeout)
    print(json.dumps(run(args.url, args.n, args.mode, args.nonce, args.hitset, args.warmup, args.timeout)))


if __name__ == "__main__":
    main()
