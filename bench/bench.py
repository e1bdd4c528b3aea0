#!/usr/bin/env python3
"""Parrot benchmark driver (issue 9). Normally started by bench/run.sh; see bench/README.md.

Starts every server it measures itself (mock upstream, Parrot, nginx, LiteLLM) on 127.0.0.1,
drives them with wrk (bench/load.lua) and the SSE probe (bench/sse_probe.py), and writes a
markdown report. Every load is time-bounded; every process started here is stopped on exit.
Numbers in the report come only from this run.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sse_probe  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA = BENCH_DIR / "load.lua"
CHAT = "/v1/chat/completions"
AUTH = "Bearer sk-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- request bodies

def hit_prompt(i: int) -> str:
    return f"bench hit prompt number {i}"


def prompt_body(prompt: str) -> bytes:
    # Byte-identical to body_for() in load.lua.
    return ('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' + prompt + '"}]}').encode()


# --------------------------------------------------------------------------- HTTP helpers

def http_request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
                 timeout: float = 30.0) -> tuple[int, dict, bytes]:
    parsed = re.match(r"http://([^:/]+):(\d+)(/.*)?$", url)
    if not parsed:
        raise ValueError(f"bad url {url}")
    host, port, path = parsed.group(1), int(parsed.group(2)), parsed.group(3) or "/"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        all_headers = {"Authorization": AUTH}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def get_json(url: str, timeout: float = 10.0) -> dict:
    status, _, data = http_request(url, timeout=timeout)
    if status != 200:
        raise RuntimeError(f"GET {url}: status {status}")
    return json.loads(data)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- CPU accounting

def proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, utime+stime ticks, comm) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        close = text.rfind(")")
        comm = text[text.find("(") + 1:close]
        fields = text[close + 2:].split()
        # fields[0] = state (field 3); ppid = field 4; utime = 14; stime = 15
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return table


def tree_ticks(table: dict, roots: list[int]) -> int:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack, total = set(), list(roots), 0
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


def system_busy_ticks() -> int:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]) - idle


def busy_sample(seconds: float, exclude: list[int]) -> dict:
    """Machine-wide CPU use over `seconds`, and the busiest processes not started here."""
    t0, b0, table0 = time.monotonic(), system_busy_ticks(), proc_table()
    time.sleep(seconds)
    t1, b1, table1 = time.monotonic(), system_busy_ticks(), proc_table()
    mine = set()
    for pid in [os.getpid()] + exclude:
        mine.add(pid)
    users = []
    for pid, (ppid, ticks, comm) in table1.items():
        if pid in mine or ppid in mine:
            continue
        before = table0.get(pid, (0, ticks, comm))[1]
        delta = ticks - before
        if delta > 0:
            users.append((delta / CLK_TCK / (t1 - t0), comm))
    users.sort(reverse=True)
    return {
        "busy_cores": round((b1 - b0) / CLK_TCK / (t1 - t0), 2),
        "top": [f"{comm} {cores:.2f}" for cores, comm in users[:5] if cores >= 0.02],
    }


# --------------------------------------------------------------------------- processes

class Procs:
    """Every process this driver starts; each in its own session so its whole group can be
    stopped. The live set is mirrored to a pid file that run.sh's trap reads."""

    def __init__(self, pidfile: Path | None) -> None:
        self.live: dict[int, tuple[subprocess.Popen, str]] = {}
        self.pidfile = pidfile
        self._write()

    def _write(self) -> None:
        if self.pidfile:
            self.pidfile.write_text("".join(f"{pid} {name}\n" for pid, (_, name) in self.live.items()))

    def start(self, name: str, argv: list[str], env: dict | None = None, cwd: Path | None = None,
              log_path: Path | None = None, stdout_pipe: bool = False) -> subprocess.Popen:
        out = subprocess.PIPE if stdout_pipe else (open(log_path, "ab") if log_path else subprocess.DEVNULL)
        err = open(log_path, "ab") if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.live[proc.pid] = (proc, name)
        self._write()
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 10.0) -> None:
        if proc.pid not in self.live:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        # Children that left the group die with it; make sure none of the group is left.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        del self.live[proc.pid]
        self._write()

    def stop_all(self) -> None:
        for proc, _ in list(self.live.values()):
            try:
                self.stop(proc, grace=5.0)
            except Exception as error:  # keep stopping the others
                log(f"stopping {proc.pid}: {error}")

    def pids(self) -> list[int]:
        return list(self.live.keys())


class Server:
    def __init__(self, kind: str, name: str, proc: subprocess.Popen, port: int, log_path: Path | None = None,
                 extra: dict | None = None) -> None:
        self.kind, self.name, self.proc, self.port, self.log_path = kind, name, proc, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.extra = extra or {}

    def stats(self) -> dict | None:
        try:
            if self.kind == "parrot":
                return get_json(self.url + "/stats")
            if self.kind == "mock":
                return get_json(self.url + "/_mock/stats")
        except Exception as error:
            log(f"{self.name}: stats unavailable: {error}")
        return None


# --------------------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.procs = Procs(Path(args.pidfile) if args.pidfile else None)
        self.bin = Path(args.bin_dir)
        self.rows: list[dict] = []
        self.sections: dict[str, dict] = {}
        self.nonce_counter = 0
        self.run_id = f"{os.getpid()}x{int(time.time())}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARROT_") and k != "OPENAI_API_KEY"}

    def nonce(self) -> str:
        self.nonce_counter += 1
        return f"{self.run_id}r{self.nonce_counter}"

    # ----------------------------------------------------------------- servers

    def wait_http(self, server: Server, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.proc.returncode}: {self.tail(server.log_path)}")
            try:
                status, _, _ = http_request(server.url + path, timeout=2)
                if status == 200:
                    return
                last = f"status {status}"
            except OSError as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s ({last}): {self.tail(server.log_path)}")

    @staticmethod
    def tail(path: Path | None, lines: int = 15) -> str:
        if not path or not path.exists():
            return ""
        text = path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def start_mock(self, name: str, latency_ms: int = 0, size: int | None = None, chunks: int = 50,
                   chunk_delay_ms: int = 0) -> Server:
        port = free_port()
        log_path = self.work / f"{name}.log"
        argv = [str(self.bin / "mock-upstream"), "--host", "127.0.0.1", "--port", str(port),
                "--latency-ms", str(latency_ms), "--chunks", str(chunks), "--chunk-delay-ms", str(chunk_delay_ms),
                "--size", str(self.args.size if size is None else size)]
        proc = self.procs.start(name, argv, env=self.env, log_path=log_path, stdout_pipe=True)
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        line = b""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if b"listening on" in line or not line:
                break
        if b"listening on" not in line:
            raise RuntimeError(f"mock-upstream did not start: {line!r} {self.tail(log_path)}")
        proc.stdout.close()
        server = Server("mock", name, proc, port, log_path,
                        {"latency_ms": latency_ms, "size": self.args.size if size is None else size,
                         "chunks": chunks, "chunk_delay_ms": chunk_delay_ms})
        log(f"{name}: mock-upstream on {server.url} (latency {latency_ms} ms, chunk delay {chunk_delay_ms} ms)")
        return server

    def start_parrot(self, name: str, upstream: Server, *, cache: bool = True, memory_bytes: int = 64 * MIB,
                     log_level: str = "warning", store: str = "sqlite", postgres_url: str = "") -> Server:
        port = free_port()
        directory = self.work / name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        config = f"""# bench config for scenario {name} (written by bench/bench.py)
[server]
host = "127.0.0.1"
port = {port}
max_connections = 4096

[cache]
enabled = {"true" if cache else "false"}
store = "{store}"
path = "{directory / 'cache.sqlite'}"
postgres_url = "{postgres_url}"
memory_bytes = {memory_bytes}

[providers.openai]
base_url = "{upstream.url}/v1"
api_key_env = ""

[log]
level = "{log_level}"
"""
        config_path = directory / "proxy.conf"
        config_path.write_text(config)
        log_path = directory / "parrot.log"
        proc = self.procs.start(name, [str(self.bin / "parrot"), "serve", "--config", str(config_path)],
                                env=self.env, cwd=directory, log_path=log_path)
        server = Server("parrot", name, proc, port, log_path,
                        {"cache": cache, "memory_bytes": memory_bytes, "log_level": log_level, "store": store})
        self.wait_http(server, "/readyz", 60)
        log(f"{name}: parrot on {server.url} (cache {'on' if cache else 'off'}, store {store}, "
            f"memory tier {memory_bytes // MIB} MiB, log {log_level})")
        return server

    def start_nginx(self, name: str, body: bytes) -> Server:
        """nginx serving `body` as a static file at CHAT, POST included."""
        def prepare(directory: Path) -> None:
            (directory / "www" / "v1" / "chat").mkdir(parents=True)
            (directory / "www" / "v1" / "chat" / "completions").write_bytes(body)

        def blocks(directory: Path, port: int) -> str:
            return f"""  open_file_cache max=16;
  server {{
    listen 127.0.0.1:{port};
    root {directory}/www;
    location = {CHAT} {{
      default_type application/json;
      error_page 405 =200 $uri;
    }}
  }}
"""
        server = self.launch_nginx(name, "the cached answer as a static file, POST too", prepare, blocks,
                                   prompt_body(hit_prompt(0)), lambda data: data == body)
        log(f"{name}: nginx on {server.url} ({server.extra['workers']} workers, {len(body)}-byte static answer)")
        return server

    def start_nginx_proxy(self, name: str, upstream: Server) -> Server:
        """nginx as a plain reverse proxy in front of the mock (keep-alive upstream pool, no cache):
        what relaying a request costs on this machine for a proxy with no logic at all."""
        def blocks(directory: Path, port: int) -> str:
            return f"""  upstream mock {{
    server 127.0.0.1:{upstream.port};
    keepalive 64;
    keepalive_requests 100000000;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
"""
        server = self.launch_nginx(name, "reverse proxy", lambda directory: None, blocks,
                                   prompt_body("nginx proxy check"), lambda data: b"chat.completion" in data)
        log(f"{name}: nginx reverse proxy on {server.url} in front of {upstream.url} ({server.extra['workers']} workers)")
        return server

    def start_nginx_cache(self, name: str, upstream: Server) -> Server:
        """nginx `proxy_cache` in front of the mock, keyed like Parrot's exact tier: method, URI,
        `Authorization` and the whole POST body (`$request_body`, kept in memory by a body buffer
        larger than any benchmark body), one fetch per key in flight (`proxy_cache_lock`), the
        same keep-alive upstream pool as the reverse proxy. Answers are stored on disk in the
        temp dir (with the page cache in front), as Parrot stores them in SQLite."""
        def prepare(directory: Path) -> None:
            (directory / "cache").mkdir()

        def blocks(directory: Path, port: int) -> str:
            return f"""  proxy_cache_path {directory}/cache levels=1:2 keys_zone=bench:32m max_size=4g inactive=1h use_temp_path=off;
  upstream mock {{
    server 127.0.0.1:{upstream.port};
    keepalive 64;
    keepalive_requests 100000000;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_body_buffer_size 1m;
    client_max_body_size 1m;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_methods POST;
      proxy_cache_key "$request_method $request_uri $http_authorization $request_body";
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;
      add_header X-Cache-Status $upstream_cache_status;
    }}
  }}
"""
        server = self.launch_nginx(name, "proxy_cache", prepare, blocks, prompt_body("nginx proxy_cache check"),
                                   lambda data: b"chat.completion" in data)
        log(f"{name}: nginx proxy_cache on {server.url} in front of {upstream.url} ({server.extra['workers']} workers)")
        return server

    def launch_nginx(self, name: str, purpose: str, prepare, blocks, probe_body: bytes, answered) -> Server:
        """One nginx of the benchmark's own (temp dir, `daemon off`, access log off): `prepare(directory)`
        lays out its files, `blocks(directory, port)` is the rest of its `http` block; ready once a
        POST of `probe_body` to CHAT is answered 200 with a body `answered` accepts."""
        port = free_port()
        directory = self.work / name
        if directory.exists():
            shutil.rmtree(directory)
        (directory / "tmp").mkdir(parents=True)
        prepare(directory)
        os.chmod(directory, 0o755)
        workers = self.args.nginx_workers
        config = f"""# bench nginx (written by bench/bench.py): {purpose}
daemon off;
master_process on;
worker_processes {workers};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {directory}/tmp/body;
  proxy_temp_path {directory}/tmp/proxy;
  fastcgi_temp_path {directory}/tmp/fastcgi;
  uwsgi_temp_path {directory}/tmp/uwsgi;
  scgi_temp_path {directory}/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
{blocks(directory, port)}}}
"""
        config_path = directory / "nginx.conf"
        config_path.write_text(config)
        log_path = directory / "nginx.out"
        proc = self.procs.start(name, ["nginx", "-c", str(config_path), "-p", str(directory)], env=self.env,
                                log_path=log_path)
        server = Server("nginx", name, proc, port, log_path, {"workers": workers})
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _, data = http_request(server.url + CHAT, "POST", probe_body, timeout=2)
                if status == 200 and answered(data):
                    return server
                raise RuntimeError(f"nginx ({purpose}) answered {status} with {len(data)} bytes")
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"nginx ({purpose}) did not start: {self.tail(log_path)} {self.tail(directory / 'error.log')}")
                time.sleep(0.1)

    def start_bare(self, name: str, body: bytes) -> Server:
        """A bare Hummingbird 2 server (Sources/bare-hummingbird): reads the body, hashes it with
        SHA-256 and returns `body`. The framework's own ceiling for any server built on it."""
        port = free_port()
        directory = self.work / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "answer.json").write_bytes(body)
        log_path = directory / "bare.log"
        proc = self.procs.start(name, [str(self.bin / "bare-hummingbird"), "--host", "127.0.0.1", "--port", str(port),
                                       "--body-file", str(directory / "answer.json")], env=self.env, log_path=log_path)
        server = Server("bare", name, proc, port, log_path, {})
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _, data = http_request(server.url + CHAT, "POST", prompt_body(hit_prompt(0)), timeout=2)
                if status == 200 and data == body:
                    break
                raise RuntimeError(f"bare-hummingbird answered {status} with {len(data)} bytes")
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"bare-hummingbird did not start: {self.tail(log_path)}")
                time.sleep(0.1)
        log(f"{name}: bare Hummingbird on {server.url} ({len(body)}-byte fixed answer)")
        return server

    def start_litellm(self, name: str, upstream: Server) -> Server:
        binary = self.args.litellm
        if not binary or not Path(binary).exists():
            raise Unavailable(self.args.litellm_note or f"LiteLLM not installed ({binary or 'no path given'})")
        port = free_port()
        directory = self.work / name
        directory.mkdir(parents=True, exist_ok=True)
        config = f"""# bench LiteLLM proxy (written by bench/bench.py)
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {upstream.url}/v1
      api_key: sk-bench
litellm_settings:
  cache: true
  cache_params:
    type: local
  set_verbose: false
general_settings:
  # No master key, like Parrot's open default (an auth check would only slow LiteLLM down).
  dangerously_permit_weak_or_unset_master_key: true
"""
        (directory / "config.yaml").write_text(config)
        # Per-request access-log lines off, as for Parrot (log level warning) and nginx.
        (directory / "log.json").write_text(json.dumps({
            "version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
            "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
            "loggers": {"uvicorn": {"handlers": ["err"], "level": "WARNING"},
                        "uvicorn.error": {"level": "WARNING"},
                        "uvicorn.access": {"handlers": ["err"], "level": "WARNING", "propagate": False}},
        }))
        env = dict(self.env, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False",
                   NO_DOCS="True")
        argv = [binary, "--config", str(directory / "config.yaml"), "--host", "127.0.0.1", "--port", str(port),
                "--num_workers", str(self.args.litellm_workers), "--log_config", str(directory / "log.json")]
        log_path = directory / "litellm.log"
        proc = self.procs.start(name, argv, env=env, cwd=directory, log_path=log_path)
        server = Server("litellm", name, proc, port, log_path, {"workers": self.args.litellm_workers})
        self.wait_http(server, "/health/liveliness", 180)
        version = ""
        try:
            _, headers, _ = http_request(server.url + CHAT, "POST", prompt_body("bench litellm version probe"))
            version = headers.get("x-litellm-version", "")
        except OSError:
            pass
        server.extra["version"] = version
        log(f"{name}: LiteLLM {version} on {server.url} ({self.args.litellm_workers} workers, local cache)")
        return server

    # ----------------------------------------------------------------- priming

    def prime(self, server: Server, hitset: int, repeats: int = 1, check_hit: bool = True) -> None:
        """Sends every hit prompt `repeats` times (fresh connection each), then checks a HIT."""
        def one(i: int) -> int:
            status, _, data = http_request(server.url + CHAT, "POST", prompt_body(hit_prompt(i % hitset)), timeout=60)
            if status != 200:
                raise RuntimeError(f"priming {server.name}: status {status}: {data[:200]!r}")
            return status

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, range(hitset * repeats)))
        if check_hit and server.kind == "parrot":
            status, headers, _ = http_request(server.url + CHAT, "POST", prompt_body(hit_prompt(0)))
            if status != 200 or headers.get("x-parrot-cache") != "HIT":
                raise RuntimeError(f"{server.name}: primed prompt is not a HIT ({status}, {headers.get('x-parrot-cache')})")

    # ----------------------------------------------------------------- wrk

    def wrk(self, url: str, mode: str, conns: int, seconds: int, nonce: str, hitset: int) -> dict:
        threads = max(1, min(conns, self.args.threads))
        argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", f"{self.args.wrk_timeout}s",
                "-s", str(LUA), url, "--", mode, CHAT, nonce, str(hitset)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, env=self.env)
        for line in done.stdout.splitlines():
            if line.startswith("WRK_JSON "):
                return json.loads(line[len("WRK_JSON "):])
        raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")

    def measure(self, scenario: str, label: str, server: Server, mode: str, conns: int, *,
                upstream: Server | None = None, hitset: int | None = None, seconds: int | None = None,
                warmup: int | None = None, record: bool = True) -> dict:
        hitset = hitset or self.args.hitset
        seconds = seconds or self.args.duration
        warmup = self.args.warmup if warmup is None else warmup
        waited = self.settle() if record else 0.0
        if warmup > 0:
            self.wrk(server.url, mode, conns, warmup, self.nonce(), hitset)
        if server.kind == "parrot":
            # Parrot's own latency histograms then cover exactly this run (loopback: no admin token needed).
            try:
                http_request(server.url + "/stats/reset", "POST", b"", timeout=10)
            except OSError as error:
                log(f"{server.name}: /stats/reset failed: {error}")
        before_parrot = server.stats() if server.kind == "parrot" else None
        before_mock = upstream.stats() if upstream else None
        log_lines_before = self.count_lines(server.log_path) if server.kind == "parrot" else None
        table0, busy0, t0 = proc_table(), system_busy_ticks(), time.monotonic()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = self.wrk(server.url, mode, conns, seconds, self.nonce(), hitset)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        table1, busy1, t1 = proc_table(), system_busy_ticks(), time.monotonic()
        wall = t1 - t0
        ours = self.procs.pids()
        server_ticks = tree_ticks(table1, [server.proc.pid]) - tree_ticks(table0, [server.proc.pid])
        ours_ticks = tree_ticks(table1, ours) - tree_ticks(table0, ours)
        wrk_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        busy = (busy1 - busy0) / CLK_TCK
        requests = result["requests"]
        errors = result["errors"]
        row = {
            "scenario": scenario, "target": label, "server": server.name, "kind": server.kind, "mode": mode,
            "conns": conns, "threads": result["threads"], "seconds": result["duration_s"], "requests": requests,
            "rps": result["rps"], "p50": result["latency_ms"]["p50"], "p90": result["latency_ms"]["p90"],
            "p99": result["latency_ms"]["p99"], "p99_9": result["latency_ms"]["p99_9"],
            "mean": result["latency_ms"]["mean"], "max": result["latency_ms"]["max"],
            "errors": errors, "error_total": sum(errors.values()),
            "bytes_per_request": round(result["bytes"] / requests) if requests else 0,
            "server_cpu_cores": round(server_ticks / CLK_TCK / wall, 3),
            "server_cpu_us_per_request": round(server_ticks / CLK_TCK / requests * 1e6, 1) if requests else None,
            "wrk_cpu_cores": round(wrk_cpu / wall, 3),
            "other_cpu_cores": round(max(0.0, busy - ours_ticks / CLK_TCK - wrk_cpu) / wall, 3),
            "settle_wait_s": round(waited, 1),
        }
        if upstream and before_mock:
            after_mock = upstream.stats()
            if after_mock:
                row["upstream_calls"] = after_mock["requests"] - before_mock["requests"]
                row["upstream_connections"] = after_mock.get("connections_opened", 0) - before_mock.get("connections_opened", 0)
        if before_parrot:
            after = server.stats()
            if after:
                c0, c1 = before_parrot["cache"], after["cache"]
                row["parrot"] = {k: c1[k] - c0[k] for k in ("hits", "misses", "bypass")}
                row["parrot"]["requests"] = after["requests"] - before_parrot["requests"]
                row["rss_bytes"] = after["memory"]["rss_bytes"]
                row["parrot_latency"] = {
                    op: {k: v.get(k) for k in ("count", "p50", "p99")}
                    for op, v in after.get("latency_ms", {}).items() if isinstance(v, dict) and v.get("count")
                }
        if log_lines_before is not None:
            row["log_lines"] = self.count_lines(server.log_path) - log_lines_before
        row["flags"] = self.flags(row)
        log(f"  {scenario} {label:<34} {mode:<5} c={conns:<4} {row['rps']:>10.1f} rps  p50 {row['p50']:.3f} ms"
            f"  p99 {row['p99']:.3f} ms  cpu {row['server_cpu_cores']:.2f}  other {row['other_cpu_cores']:.2f}"
            f"{'  ' + '; '.join(row['flags']) if row['flags'] else ''}")
        if record:
            self.rows.append(row)
        return row

    def settle(self) -> float:
        """On a shared machine, waits (at most --settle-max-s) until processes not started here
        use less than --busy-threshold cores, so interleaved runs see similar conditions."""
        if self.args.settle_max_s <= 0:
            return 0.0
        started = time.monotonic()
        ours = self.procs.pids()
        while True:
            t0, b0, table0 = time.monotonic(), system_busy_ticks(), proc_table()
            time.sleep(0.5)
            t1, b1, table1 = time.monotonic(), system_busy_ticks(), proc_table()
            mine = tree_ticks(table1, ours) - tree_ticks(table0, ours)
            others = max(0, (b1 - b0) - mine) / CLK_TCK / (t1 - t0)
            waited = time.monotonic() - started
            if others < self.args.busy_threshold or waited >= self.args.settle_max_s:
                return waited

    @staticmethod
    def count_lines(path: Path | None) -> int:
        if not path or not path.exists():
            return 0
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

    def flags(self, row: dict) -> list[str]:
        out = []
        if row["error_total"]:
            parts = [f"{k} {v}" for k, v in row["errors"].items() if v]
            out.append(f"ERRORS {row['error_total']} ({', '.join(parts)})")
        if row["requests"] == 0:
            out.append("NO REQUESTS")
        if row["mode"] == "hit" and row["requests"]:
            calls = row.get("upstream_calls")
            if calls is not None and calls > 0.005 * row["requests"]:
                out.append(f"{calls} upstream calls during a hit run")
            p = row.get("parrot")
            if p and p["hits"] < 0.99 * row["requests"]:
                out.append(f"only {p['hits']} HITs in Parrot /stats")
        if row["mode"] == "miss" and row["requests"]:
            # Unique bodies: every request must reach the upstream (a window's edges aside).
            calls = row.get("upstream_calls")
            if calls is not None and calls < 0.98 * row["requests"]:
                out.append(f"only {calls} upstream calls during a miss run")
        if row["other_cpu_cores"] >= self.args.busy_threshold:
            out.append(f"machine busy: {row['other_cpu_cores']:.2f} cores used by other processes")
        return out

    # ----------------------------------------------------------------- scenarios

    def scenario_1(self) -> None:
        """Miss overhead: direct to the mock vs through Parrot (cache off, and cache on with all misses)."""
        mock = self.start_mock("s1-mock", latency_ms=0)
        off = self.start_parrot("s1-parrot-cache-off", mock, cache=False)
        on = self.start_parrot("s1-parrot-cache-on", mock, cache=True)
        relay = self.start_nginx_proxy("s1-nginx-proxy", mock)
        cache = self.start_nginx_cache("s1-nginx-cache", mock)
        try:
            for c in self.args.levels:
                self.measure("1", "direct to mock", mock, "miss", c, upstream=mock)
                self.measure("1", "nginx reverse proxy (no cache)", relay, "miss", c, upstream=mock)
                self.measure("1", "Parrot, cache off", off, "miss", c, upstream=mock)
                self.measure("1", "nginx proxy_cache, all misses", cache, "miss", c, upstream=mock)
                self.measure("1", "Parrot, cache on, all misses", on, "miss", c, upstream=mock)
        finally:
            for s in (cache, relay, on, off, mock):
                self.procs.stop(s.proc)

    def scenario_2(self) -> None:
        """Memory-tier hits vs nginx serving the same body as a static file; log warning vs info."""
        mock = self.start_mock("s2-mock", latency_ms=0)
        warn = self.start_parrot("s2-parrot-hit", mock, log_level="warning")
        info = self.start_parrot("s2-parrot-hit-info", mock, log_level="info")
        self.prime(warn, self.args.hitset)
        self.prime(info, self.args.hitset)
        status, headers, body = http_request(warn.url + CHAT, "POST", prompt_body(hit_prompt(0)))
        if status != 200 or headers.get("x-parrot-cache") != "HIT":
            raise RuntimeError(f"answer for nginx: {status} {headers.get('x-parrot-cache')}")
        self.sections["answer_bytes"] = len(body)
        nginx = self.start_nginx("s2-nginx", body)
        bare = self.start_bare("s2-bare", body)
        cache = self.start_nginx_cache("s2-nginx-cache", mock)
        self.prime(cache, self.args.hitset)
        status, headers, _ = http_request(cache.url + CHAT, "POST", prompt_body(hit_prompt(0)))
        if status != 200 or headers.get("x-cache-status") != "HIT":
            raise RuntimeError(f"nginx proxy_cache: primed prompt is not a HIT ({status}, {headers.get('x-cache-status')})")
        try:
            for c in self.args.levels:
                self.measure("2", "nginx static file", nginx, "hit", c)
                self.measure("2", "nginx proxy_cache hit", cache, "hit", c, upstream=mock)
                self.measure("2", "bare Hummingbird (hash body, fixed answer)", bare, "hit", c)
                self.measure("2", "Parrot hit, memory tier", warn, "hit", c, upstream=mock)
                self.measure("2", "Parrot hit, memory tier, log info", info, "hit", c, upstream=mock)
        finally:
            for s in (cache, bare, nginx, info, warn, mock):
                self.procs.stop(s.proc)

    def scenario_3(self) -> None:
        """Hits from the store tier: SQLite only; PostgreSQL with the memory tier off and on."""
        mock = self.start_mock("s3-mock", latency_ms=0)
        servers = [("Parrot hit, SQLite only", self.start_parrot("s3-parrot-sqlite", mock, memory_bytes=0))]
        pg_url = self.args.postgres_url
        if pg_url:
            try:
                servers.append(("Parrot hit, PostgreSQL only",
                                self.start_parrot("s3-parrot-pg", mock, memory_bytes=0, store="postgres", postgres_url=pg_url)))
                servers.append(("Parrot hit, PostgreSQL + memory",
                                self.start_parrot("s3-parrot-pg-mem", mock, store="postgres", postgres_url=pg_url)))
                self.sections["postgres"] = "measured"
            except RuntimeError as error:
                self.sections["postgres"] = mask_url(
                    f"PostgreSQL not available: Parrot did not start with store = \"postgres\": {error}")
        else:
            self.sections["postgres"] = f"PostgreSQL not available: {self.args.postgres_note or 'no URL'}"
        try:
            for _, s in servers:
                self.prime(s, self.args.hitset)
            for c in self.args.levels:
                for label, s in servers:
                    self.measure("3", label, s, "hit", c, upstream=mock)
        finally:
            for _, s in servers:
                self.procs.stop(s.proc)
            self.procs.stop(mock.proc)

    def scenario_4(self) -> None:
        """SSE time to first byte, direct vs through Parrot (miss and hit)."""
        mock = self.start_mock("s4-mock", latency_ms=0, chunks=50, chunk_delay_ms=self.args.sse_chunk_delay_ms)
        parrot = self.start_parrot("s4-parrot", mock)
        hitset = 16
        try:
            sse_probe.prime(parrot.url, hitset, 30)
            targets = [("direct to mock", mock.url, "miss"), ("Parrot, miss (relayed)", parrot.url, "miss"),
                       ("Parrot, hit (replayed)", parrot.url, "hit")]
            rounds = 4
            per_round = max(1, self.args.sse_n // rounds)
            raw = {label: {"ttfb": [], "first_event": [], "total": [], "failures": 0, "events": [], "cache": {}}
                   for label, _, _ in targets}
            for r in range(rounds):  # interleaved, so background load hits every target alike
                for label, url, mode in targets:
                    out = sse_probe.run(url, per_round, mode, self.nonce(), hitset, warmup=5 if r == 0 else 1,
                                        timeout=30, raw=True)
                    acc = raw[label]
                    for key in ("ttfb", "first_event", "total"):
                        acc[key].extend(out["raw"][key])
                    acc["failures"] += out["failures"]
                    acc["events"].append(out["events_per_answer"])
                    for k, v in out["x_parrot_cache"].items():
                        acc["cache"][k] = acc["cache"].get(k, 0) + v
            result = {}
            for label, _, mode in targets:
                acc = raw[label]
                result[label] = {
                    "mode": mode, "n": len(acc["ttfb"]), "failures": acc["failures"],
                    "events_per_answer": max(acc["events"]) if acc["events"] else 0, "x_parrot_cache": acc["cache"],
                    "ttfb_ms": sse_probe.summary(acc["ttfb"]), "first_event_ms": sse_probe.summary(acc["first_event"]),
                    "total_ms": sse_probe.summary(acc["total"]),
                }
                log(f"  4 {label:<28} ttfb p50 {result[label]['ttfb_ms']['p50']:.3f} ms p99 "
                    f"{result[label]['ttfb_ms']['p99']:.3f} ms, first event p50 {result[label]['first_event_ms']['p50']:.3f} ms, "
                    f"total p50 {result[label]['total_ms']['p50']:.1f} ms, failures {acc['failures']}")
            self.sections["sse"] = {"chunks": 50, "chunk_delay_ms": self.args.sse_chunk_delay_ms, "results": result}
        finally:
            self.procs.stop(parrot.proc)
            self.procs.stop(mock.proc)

    def scenario_5(self) -> None:
        """Mixed 70 % hits / 30 % misses at 200 ms upstream latency."""
        latency = self.args.mixed_latency_ms
        mock = self.start_mock("s5-mock", latency_ms=latency)
        parrot = self.start_parrot("s5-parrot", mock)
        try:
            self.prime(parrot, self.args.hitset)
            for c in self.args.levels:
                self.measure("5", f"direct to mock ({latency} ms)", mock, "mixed", c, upstream=mock)
                self.measure("5", f"Parrot, 70 % hits ({latency} ms upstream)", parrot, "mixed", c, upstream=mock)
            final = parrot.stats()
            if final:
                self.sections["mixed_parrot_stats"] = {"cache": final["cache"], "latency_ms": final["latency_ms"]}
        finally:
            self.procs.stop(parrot.proc)
            self.procs.stop(mock.proc)

    def scenario_6(self) -> None:
        """LiteLLM proxy with its local cache vs Parrot, same mock, same hit and miss loads."""
        mock = self.start_mock("s6-mock", latency_ms=0)
        parrot = None
        litellm = None
        try:
            try:
                litellm = self.start_litellm("s6-litellm", mock)
            except Unavailable as error:
                self.sections["litellm"] = f"LiteLLM not available: {error}"
                return
            except RuntimeError as error:
                self.sections["litellm"] = f"LiteLLM could not be started: {error}"
                return
            parrot = self.start_parrot("s6-parrot", mock)
            # LiteLLM's local cache lives in each worker: send every prompt several times on fresh
            # connections so every worker has it (the warm-up run fills any gap).
            self.prime(litellm, self.args.hitset, repeats=max(1, 6 * self.args.litellm_workers))
            self.prime(parrot, self.args.hitset)
            self.sections["litellm"] = f"LiteLLM {litellm.extra.get('version', '')}, {self.args.litellm_workers} uvicorn workers, local in-memory cache"
            for c in self.args.levels:
                self.measure("6", "LiteLLM hit (local cache)", litellm, "hit", c, upstream=mock)
                self.measure("6", "Parrot hit", parrot, "hit", c, upstream=mock)
                self.measure("6", "LiteLLM miss", litellm, "miss", c, upstream=mock)
                self.measure("6", "Parrot miss", parrot, "miss", c, upstream=mock)
        finally:
            for s in (parrot, litellm, mock):
                if s:
                    self.procs.stop(s.proc)

    def scenario_7(self) -> None:
        """RSS after many hits, and while unique misses fill the memory tier to its bound."""
        bound = self.args.memory_bytes
        mock = self.start_mock("s7-mock", latency_ms=0, size=self.args.memory_answer_size)
        parrot = self.start_parrot("s7-parrot", mock, memory_bytes=bound)
        out: dict = {"memory_bytes_bound": bound, "answer_size": self.args.memory_answer_size}
        try:
            def status() -> dict:
                s = parrot.stats() or {}
                proc = self.proc_status(parrot.proc.pid)
                return {"rss_bytes": s.get("memory", {}).get("rss_bytes"), "vm_hwm_bytes": proc.get("VmHWM"),
                        "rss_anon_bytes": proc.get("RssAnon"), "rss_file_bytes": proc.get("RssFile"),
                        "memory_tier_bytes": s.get("cache", {}).get("memory_bytes"),
                        "memory_tier_entries": s.get("cache", {}).get("memory_entries"),
                        "store_entries": s.get("cache", {}).get("entries"), "store_bytes": s.get("cache", {}).get("bytes"),
                        "hits": s.get("cache", {}).get("hits"), "misses": s.get("cache", {}).get("misses")}

            out["idle"] = status()
            self.prime(parrot, self.args.hitset)
            # Phase 1: N hits.
            target, done_hits, started = self.args.memory_hits, 0, time.monotonic()
            rounds = []
            while done_hits < target and time.monotonic() - started < self.args.memory_max_s:
                r = self.measure("7", "Parrot hits (memory run)", parrot, "hit", 64, seconds=self.args.memory_round_s,
                                 warmup=0, record=False)
                done_hits += r["requests"]
                rounds.append({"requests": r["requests"], "rps": r["rps"], "errors": r["error_total"]})
            out["after_hits"] = status()
            out["hit_requests"] = done_hits
            out["hit_rounds"] = rounds
            # Phase 2: unique misses until the memory tier holds its bound, has turned over at
            # least twice (so it evicts), and RSS has stopped growing; or the time cap.
            fill, started, previous, flat = [], time.monotonic(), -1, 0
            misses_since_full, plateau_entries = 0, 0
            while time.monotonic() - started < self.args.memory_max_s:
                r = self.measure("7", "Parrot misses (fill)", parrot, "miss", 64, seconds=self.args.memory_round_s,
                                 warmup=0, record=False, upstream=mock)
                st = status()
                st.update({"requests": r["requests"], "rps": round(r["rps"], 1), "errors": r["error_total"],
                           "t_s": round(time.monotonic() - started, 1)})
                fill.append(st)
                log(f"  7 fill: memory tier {st['memory_tier_bytes']} B / {st['memory_tier_entries']} entries, "
                    f"store {st['store_bytes']} B, rss {st['rss_bytes']} B")
                tier = st["memory_tier_bytes"] or 0
                if previous >= 0 and tier <= previous * 1.01 and tier >= 0.8 * bound:
                    flat += 1
                    misses_since_full += r["requests"]
                    plateau_entries = max(plateau_entries, st["memory_tier_entries"] or 0)
                else:
                    flat = 0
                previous = tier
                rss = [f["rss_bytes"] or 0 for f in fill]
                rss_flat = len(rss) >= 3 and rss[-1] <= rss[-3] * 1.01
                if flat >= 2 and misses_since_full >= 2 * max(1, plateau_entries) and rss_flat:
                    break
            out["misses_after_tier_full"] = misses_since_full
            out["tier_entries_at_bound"] = plateau_entries
            out["fill"] = fill
            out["after_fill"] = status()
            out["plateaued"] = flat >= 2
        finally:
            self.sections["memory"] = out
            self.procs.stop(parrot.proc)
            self.procs.stop(mock.proc)

    @staticmethod
    def proc_status(pid: int) -> dict:
        out = {}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    out[key] = int(value.split()[0]) * 1024
        except OSError:
            pass
        return out

    # ----------------------------------------------------------------- run

    def run(self) -> None:
        started = time.monotonic()
        self.sections["machine_before"] = busy_sample(2.0, self.procs.pids())
        log(f"machine before: {self.sections['machine_before']}")
        errors = {}
        for number in self.args.scenarios:
            fn = getattr(self, f"scenario_{number}")
            log(f"scenario {number}: {fn.__doc__.strip().splitlines()[0]}")
            try:
                fn()
            except Exception as error:  # one broken scenario must not lose the others
                errors[str(number)] = f"{type(error).__name__}: {error}"
                log(f"scenario {number} failed: {error}\n{traceback.format_exc()}")
            self.save_raw(started, errors)
        self.sections["machine_after"] = busy_sample(2.0, self.procs.pids())
        self.sections["elapsed_s"] = round(time.monotonic() - started, 1)
        self.save_raw(started, errors)
        import report
        text = report.render(self.raw(errors), self.args)
        Path(self.args.out).write_text(text)
        print(text)
        log(f"wrote {self.args.out}")

    def raw(self, errors: dict) -> dict:
        return {"rows": self.rows, "sections": self.sections, "errors": errors, "machine": machine_info(self.args),
                "settings": {k: (mask_url(v) if k == "postgres_url" else v) for k, v in vars(self.args).items()
                             if k not in ("pidfile",)}}

    def save_raw(self, started: float, errors: dict) -> None:
        path = Path(self.args.raw_out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.raw(errors), indent=1, default=str))


def mask_url(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url or "")


class Unavailable(Exception):
    pass


def run_text(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info(args: argparse.Namespace) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = args.source_commit or run_text(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = "" if args.source_commit else run_text(
        ["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": run_text(["nproc"]),
        "free_h": run_text(["free", "-h"]),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "git_commit": commit,
        "build_note": args.build_note,
        "git_dirty": bool(dirty),
        "git_dirty_files": dirty.splitlines()[:20],
        "swift": run_text(["swift", "--version"]).splitlines()[0] if run_text(["swift", "--version"]) else "",
        "wrk": (run_text(["sh", "-c", "wrk --version 2>&1 | head -1"]) or "").split(" Copyright")[0],
        "nginx": run_text(["sh", "-c", "nginx -v 2>&1"]),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Parrot benchmarks (issue 9)")
    p.add_argument("--quick", action="store_true", help="fewer levels, shorter runs")
    p.add_argument("--levels", help="comma-separated concurrency levels (default 1,16,64,256; quick 1,16,64)")
    p.add_argument("--duration", type=int, help="seconds per measured run (default 10; quick 5)")
    p.add_argument("--warmup", type=int, help="seconds of warm-up before each run, not measured (default 2; quick 1)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads at most (default 2)")
    p.add_argument("--wrk-timeout", type=int, default=10, help="wrk per-request timeout in seconds")
    p.add_argument("--hitset", type=int, default=64, help="distinct prompts in the hit set")
    p.add_argument("--size", type=int, default=1000, help="mock answer content size in bytes")
    p.add_argument("--scenarios", default="1,2,3,4,5,6,7")
    p.add_argument("--sse-n", type=int, help="SSE probe requests per target (default 400; quick 100)")
    p.add_argument("--sse-chunk-delay-ms", type=int, default=1)
    p.add_argument("--mixed-latency-ms", type=int, default=200)
    p.add_argument("--memory-hits", type=int, help="hit requests before reading RSS (default 1000000; quick 100000)")
    p.add_argument("--memory-bytes", type=int, default=64 * MIB, help="memory tier bound for scenario 7")
    p.add_argument("--memory-answer-size", type=int, default=8192, help="answer size while filling the memory tier")
    p.add_argument("--memory-round-s", type=int, help="seconds per load round in scenario 7 (default 10; quick 5)")
    p.add_argument("--memory-max-s", type=int, help="time cap per phase of scenario 7 (default 600; quick 150)")
    p.add_argument("--nginx-workers", type=int, default=2)
    p.add_argument("--litellm", default="", help="path of the litellm executable")
    p.add_argument("--litellm-note", default="", help="why LiteLLM is unavailable (from run.sh)")
    p.add_argument("--litellm-workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--postgres-url", default="")
    p.add_argument("--postgres-note", default="", help="why PostgreSQL is unavailable (from run.sh)")
    p.add_argument("--busy-threshold", type=float, default=0.25, help="flag runs where other processes used this many cores")
    p.add_argument("--settle-max-s", type=float, default=10.0,
                   help="before each run, wait up to this long for other processes to go quiet (0 = never wait)")
    p.add_argument("--bin-dir", default=str(ROOT / ".build-bench" / "release"))
    p.add_argument("--work-dir", default="")
    p.add_argument("--pidfile", default="")
    p.add_argument("--out", default=str(BENCH_DIR / "results.md"))
    p.add_argument("--raw-out", default=str(BENCH_DIR / "work" / "results.json"))
    p.add_argument("--note", action="append", default=[], help="a line for the report's notes (repeatable)")
    p.add_argument("--command", default="bench/bench.py", help="the command line, for the report")
    p.add_argument("--build-note", default="", help="how the binaries were built (from run.sh)")
    p.add_argument("--source-commit", default="", help="the commit the binaries were built from, when not the work tree")
    args = p.parse_args(argv)
    q = args.quick
    args.levels = [int(x) for x in (args.levels or ("1,16,64" if q else "1,16,64,256")).split(",") if x]
    args.duration = args.duration or (5 if q else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if q else 2)
    args.sse_n = args.sse_n or (100 if q else 400)
    args.memory_hits = args.memory_hits or (100_000 if q else 1_000_000)
    args.memory_round_s = args.memory_round_s or (5 if q else 10)
    args.memory_max_s = args.memory_max_s or (150 if q else 600)
    args.scenarios = [int(x) for x in args.scenarios.split(",") if x]
    if not args.work_dir:
        args.work_dir = tempfile.mkdtemp(prefix="parrot-bench.")
        os.chmod(args.work_dir, 0o755)  # nginx's workers (user nobody) read and write inside it
    return args


def main() -> None:
    args = parse_args(sys.argv[1:])
    bench = Bench(args)

    def on_signal(number, _frame):
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        bench.run()
    finally:
        bench.procs.stop_all()


if __name__ == "__main__":
    main()
