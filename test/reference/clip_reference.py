#!/usr/bin/env python3
"""Our own numpy reference for what the golden set does not cover.

  * CLIP-L / CLIP-G hidden states for clip_skip 1, 2, 3 (Fooocus reads
    `hidden_states[-clip_skip]` of the HF-style list [embeddings, layer 1, ...,
    layer L], never with the final LayerNorm -- pipeline.md section 1.4), and
    CLIP-G's pooled vector, for the golden prompts' token ids;
  * Fooocus's ADM vectors (pipeline.md section 1.5) for a few
    (pooled, height, width, scaler) tuples, both the "emphasized" and the
    "consistent" variant.

Written from the published architecture (golden README section 1 "Module
semantics", sections 2.2 / 2.3; pipeline.md sections 1.4 / 1.5), no code
copied from any implementation. Only numpy (and the standard library).

Before writing anything, the script validates itself against the independent
golden oracle: its clip_skip-2 states must reproduce `p{i}.clip_l.penultimate`,
`p{i}.clip_g.penultimate`, its pooled vector `p{i}.clip_g.pooled` (and its
final-LN states `p{i}.*.last_normed`) within 1e-4, and its size embedder the
golden `embeddings` tensors.

Output: test/reference/clip_skip_adm.json (values for prompts p0 and p1,
7 significant digits). Run from anywhere:

    python3 test/reference/clip_reference.py

The shared directory is $FOOOCUS_SHARED, default <repo>/../shared.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHARED = Path(os.environ.get("FOOOCUS_SHARED", REPO.parent / "shared"))
GOLDEN = SHARED / "golden"
CHECKPOINT = GOLDEN / "tiny-sdxl.safetensors"
OUT = HERE / "clip_skip_adm.json"

F32 = np.float32
CLIP_L_PREFIX = "conditioner.embedders.0.transformer.text_model."
CLIP_G_PREFIX = "conditioner.embedders.1.model."
HEAD_DIM = 64  # SDXL: 64-wide heads in both towers (golden README section 1)
LN_EPS = 1e-5
CLIP_SKIPS = (1, 2, 3)
JSON_PROMPTS = (0, 1)  # written to the JSON; every golden prompt is validated
VALIDATION_ATOL = 1e-4


# --------------------------------------------------------------------------
# safetensors, read with numpy only
# --------------------------------------------------------------------------
_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


class Safetensors:
    """8-byte little-endian header length, JSON header, then raw tensor bytes."""

    def __init__(self, path: Path):
        self.path = path
        raw = path.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        self.header = json.loads(raw[8 : 8 + n])
        self.header.pop("__metadata__", None)
        self.data = memoryview(raw)[8 + n :]

    def keys(self):
        return self.header.keys()

    def raw(self, name: str) -> np.ndarray:
        info = self.header[name]
        start, end = info["data_offsets"]
        arr = np.frombuffer(self.data[start:end], dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        return arr.reshape(info["shape"])

    def f32(self, name: str) -> np.ndarray:
        """Floating tensors upcast to float32 (fp16 weights -> exact float32 values)."""
        return self.raw(name).astype(F32)


# --------------------------------------------------------------------------
# building blocks, float32 throughout (as torch float32 on CPU)
# --------------------------------------------------------------------------
def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """torch.nn.Linear: weight stored [out, in], y = x W^T + b."""
    y = x @ w.T
    return y + b if b is not None else y


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = LN_EPS) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True, dtype=np.float64)
    var = ((x.astype(np.float64) - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x.astype(np.float64) - mean) / np.sqrt(var + eps)
    return (y.astype(F32) * w + b).astype(F32)


def quick_gelu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(1.702 x) (OpenAI CLIP / CLIP-L)."""
    return (x / (F32(1) + np.exp(F32(-1.702) * x))).astype(F32)


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)) (CLIP-G); erf evaluated in float64."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / math.sqrt(2.0)).astype(np.float64))).astype(F32)


def causal_self_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int) -> np.ndarray:
    """q, k, v: [B, T, W] already projected. Causal (key j > query i masked), no padding mask."""
    B, T, W = q.shape
    d = W // heads

    def split(t):
        return t.reshape(B, T, heads, d).transpose(0, 2, 1, 3)  # [B, H, T, d]

    qh, kh, vh = split(q), split(k), split(v)
    scores = (qh @ kh.transpose(0, 1, 3, 2)) * F32(1.0 / math.sqrt(d))
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future, F32(-np.inf), scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p = p / p.sum(axis=-1, keepdims=True)
    out = (p.astype(F32) @ vh).transpose(0, 2, 1, 3).reshape(B, T, W)
    return out.astype(F32)


# --------------------------------------------------------------------------
# the two towers
# --------------------------------------------------------------------------
def clip_l_hidden_states(st: Safetensors, ids: np.ndarray) -> list[np.ndarray]:
    """CLIP-L in HF names. Returns [embeddings, out of layer 1, ..., out of layer L] (no final LN)."""
    p = CLIP_L_PREFIX
    tok = st.f32(p + "embeddings.token_embedding.weight")
    pos = st.f32(p + "embeddings.position_embedding.weight")
    T = ids.shape[1]
    x = (tok[ids] + pos[:T][None]).astype(F32)  # position_ids in the file are ignored: positions are 0..T-1
    width = x.shape[-1]
    heads = width // HEAD_DIM
    states = [x]
    n = 0
    while f"{p}encoder.layers.{n}.layer_norm1.weight" in st.header:
        lp = f"{p}encoder.layers.{n}."
        w = lambda name: st.f32(lp + name)  # noqa: E731
        h = layer_norm(x, w("layer_norm1.weight"), w("layer_norm1.bias"))
        q = linear(h, w("self_attn.q_proj.weight"), w("self_attn.q_proj.bias"))
        k = linear(h, w("self_attn.k_proj.weight"), w("self_attn.k_proj.bias"))
        v = linear(h, w("self_attn.v_proj.weight"), w("self_attn.v_proj.bias"))
        a = causal_self_attention(q, k, v, heads)
        x = (x + linear(a, w("self_attn.out_proj.weight"), w("self_attn.out_proj.bias"))).astype(F32)
        h = layer_norm(x, w("layer_norm2.weight"), w("layer_norm2.bias"))
        h = quick_gelu(linear(h, w("mlp.fc1.weight"), w("mlp.fc1.bias")))
        x = (x + linear(h, w("mlp.fc2.weight"), w("mlp.fc2.bias"))).astype(F32)
        states.append(x)
        n += 1
    return states


def clip_g_hidden_states(st: Safetensors, ids: np.ndarray) -> list[np.ndarray]:
    """CLIP-G in open_clip names (in_proj rows [q; k; v]). Same return convention as CLIP-L."""
    p = CLIP_G_PREFIX
    tok = st.f32(p + "token_embedding.weight")
    pos = st.f32(p + "positional_embedding")
    T = ids.shape[1]
    x = (tok[ids] + pos[:T][None]).astype(F32)
    width = x.shape[-1]
    heads = width // HEAD_DIM
    states = [x]
    n = 0
    while f"{p}transformer.resblocks.{n}.ln_1.weight" in st.header:
        lp = f"{p}transformer.resblocks.{n}."
        w = lambda name: st.f32(lp + name)  # noqa: E731
        h = layer_norm(x, w("ln_1.weight"), w("ln_1.bias"))
        in_w, in_b = w("attn.in_proj_weight"), w("attn.in_proj_bias")
        q = linear(h, in_w[:width], in_b[:width])
        k = linear(h, in_w[width : 2 * width], in_b[width : 2 * width])
        v = linear(h, in_w[2 * width :], in_b[2 * width :])
        a = causal_self_attention(q, k, v, heads)
        x = (x + linear(a, w("attn.out_proj.weight"), w("attn.out_proj.bias"))).astype(F32)
        h = layer_norm(x, w("ln_2.weight"), w("ln_2.bias"))
        h = gelu_exact(linear(h, w("mlp.c_fc.weight"), w("mlp.c_fc.bias")))
        x = (x + linear(h, w("mlp.c_proj.weight"), w("mlp.c_proj.bias"))).astype(F32)
        states.append(x)
        n += 1
    return states


def clip_g_final_norm(st: Safetensors, last: np.ndarray) -> np.ndarray:
    return layer_norm(last, st.f32(CLIP_G_PREFIX + "ln_final.weight"), st.f32(CLIP_G_PREFIX + "ln_final.bias"))


def clip_l_final_norm(st: Safetensors, last: np.ndarray) -> np.ndarray:
    return layer_norm(last, st.f32(CLIP_L_PREFIX + "final_layer_norm.weight"), st.f32(CLIP_L_PREFIX + "final_layer_norm.bias"))


def clip_g_pooled(st: Safetensors, states: list[np.ndarray], ids: np.ndarray) -> np.ndarray:
    """ln_final(last)[first argmax of ids] @ text_projection (stored [in, out], used as is)."""
    normed = clip_g_final_norm(st, states[-1])
    eos = ids.argmax(axis=1)  # first maximum, as torch.argmax
    rows = normed[np.arange(ids.shape[0]), eos]
    return (rows @ st.f32(CLIP_G_PREFIX + "text_projection")).astype(F32)


def state_for_clip_skip(states: list[np.ndarray], clip_skip: int) -> np.ndarray:
    """Fooocus: hidden_states[-clip_skip] (Python indexing of [emb, layer 1, ..., layer L])."""
    if not 1 <= clip_skip <= len(states):
        raise ValueError(f"clip_skip {clip_skip} out of range for {len(states) - 1} layers")
    return states[-clip_skip]


# --------------------------------------------------------------------------
# ADM (Fooocus sdxl_encode_adm, pipeline.md section 1.5)
# --------------------------------------------------------------------------
ADM_EMBED_DIM = 256


def timestep_embedding_f32(values, dim: int) -> np.ndarray:
    """[cos(t f), sin(t f)], f_i = exp(-ln(10000) i / half); float32 step by step, as torch float32."""
    half = dim // 2
    t = np.asarray(values, dtype=F32)
    expo = (F32(-math.log(10000.0)) * np.arange(half, dtype=F32)).astype(F32) / F32(half)
    # exp evaluated in float64 and rounded once: the correctly rounded float32 value (torch's SLEEF expf can be
    # one ulp off it; see the validation in main())
    freqs = np.exp(expo.astype(F32).astype(np.float64)).astype(F32)
    args = (t[:, None] * freqs[None]).astype(F32)
    a64 = args.astype(np.float64)
    return np.concatenate([np.cos(a64), np.sin(a64)], axis=-1).astype(F32)


def round_to_64(x) -> int:
    """Fooocus: int(round(float(x) / 64.0)) * 64 -- Python round(), i.e. halves go to the even multiple."""
    return int(round(float(x) / 64.0)) * 64


def fooocus_adm(pooled: np.ndarray, height: int, width: int, scaler: float) -> dict:
    sh = int(float(height) * scaler)  # int() truncation of the float64 product
    sw = int(float(width) * scaler)
    h64, w64 = round_to_64(height), round_to_64(width)
    emph = timestep_embedding_f32([sh, sw, 0, 0, h64, w64], ADM_EMBED_DIM).reshape(-1)
    cons = timestep_embedding_f32([h64, w64, 0, 0, h64, w64], ADM_EMBED_DIM).reshape(-1)
    pooled = pooled.reshape(-1).astype(F32)
    return {
        "height": height,
        "width": width,
        "scaler": scaler,
        "scaled_height": sh,
        "scaled_width": sw,
        "height64": h64,
        "width64": w64,
        "emphasized_values": [sh, sw, 0, 0, h64, w64],
        "consistent_values": [h64, w64, 0, 0, h64, w64],
        "emphasized": np.concatenate([pooled, emph]),
        "consistent": np.concatenate([pooled, cons]),
    }


# (height, width, scaler): Fooocus defaults 1.5 / 0.8 and 1.0, sizes from the aspect list and the golden runs'
# 128x128; products that float64 puts just below an integer, which int() truncates (1200 * 0.57 = 683.99... -> 683,
# 1400 * 0.57 -> 797, 1320 * 0.7 -> 923, 720 * 0.7 -> 503; none of these sizes is a rounding tie); and sizes whose
# /64 ends in exactly .5, which Python's round() sends to the even multiple (1056 -> 1024, 800 -> 768, 160 -> 128).
ADM_TUPLES = [
    (1024, 1024, 1.5),
    (1024, 1024, 0.8),
    (1152, 896, 1.5),
    (832, 1216, 0.8),
    (128, 128, 1.5),
    (1000, 600, 1.0),
    (1200, 1400, 0.57),
    (1320, 720, 0.7),
    (1056, 800, 1.5),
    (800, 1056, 0.8),
    (160, 2048, 1.5),
]


# --------------------------------------------------------------------------
# validation against the golden oracle
# --------------------------------------------------------------------------
def max_violation(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> tuple[float, bool]:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = np.abs(got - want)
    return float(diff.max()), bool(np.all(diff <= atol + rtol * np.abs(want)))


def main() -> int:
    st = Safetensors(CHECKPOINT)
    tokens = Safetensors(GOLDEN / "cases" / "tokens.safetensors")
    enc = Safetensors(GOLDEN / "cases" / "text_encoders.safetensors")
    emb = Safetensors(GOLDEN / "cases" / "embeddings.safetensors")
    cases = json.loads((GOLDEN / "cases.json").read_text())
    prompts = cases["cases"]["text_encoders"]["prompts"]

    validation: dict[str, float] = {}
    failures: list[str] = []

    def check(name: str, got, want, atol=VALIDATION_ATOL, rtol=VALIDATION_ATOL):
        m, ok = max_violation(got, want, atol, rtol)
        validation[name] = m
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: max |diff| {m:.3e}", flush=True)
        if not ok:
            failures.append(name)

    print(f"validating against {GOLDEN}")
    results = {}
    for pr in prompts:
        i = pr["index"]
        ids_l = tokens.raw(f"p{i}.clip_l.ids").astype(np.int64)
        ids_g = tokens.raw(f"p{i}.clip_g.ids").astype(np.int64)
        hs_l = clip_l_hidden_states(st, ids_l)
        hs_g = clip_g_hidden_states(st, ids_g)
        pooled = clip_g_pooled(st, hs_g, ids_g)
        check(f"p{i}.clip_l.penultimate", state_for_clip_skip(hs_l, 2), enc.f32(f"p{i}.clip_l.penultimate"))
        check(f"p{i}.clip_g.penultimate", state_for_clip_skip(hs_g, 2), enc.f32(f"p{i}.clip_g.penultimate"))
        check(f"p{i}.clip_g.pooled", pooled, enc.f32(f"p{i}.clip_g.pooled"))
        check(f"p{i}.clip_l.last_normed", clip_l_final_norm(st, hs_l[-1]), enc.f32(f"p{i}.clip_l.last_normed"))
        check(f"p{i}.clip_g.last_normed", clip_g_final_norm(st, hs_g[-1]), enc.f32(f"p{i}.clip_g.last_normed"))
        results[i] = dict(text=pr["text"], ids_l=ids_l, ids_g=ids_g, hs_l=hs_l, hs_g=hs_g, pooled=pooled)

    # The size embedder against the golden float32 embeddings (section 2.3), at the golden tolerance (atol 1e-4,
    # README section 3). Not bit-exact: torch's float32 exp (SLEEF, 1 ulp) differs from the correctly rounded
    # exp used here in ~20 of the 128 frequencies by one ulp, which moves cos/sin by ~3e-5 at t = 1024 and
    # grows linearly with t (~9e-5 at 3072); the argument t*f itself is rounded exactly as torch does.
    tvals = emb.f32("timesteps")
    check("embeddings.timestep_embedding.dim256", timestep_embedding_f32(tvals, 256), emb.f32("timestep_embedding.dim256"), rtol=0)
    check("embeddings.timestep_embedding.dim_model_channels", timestep_embedding_f32(tvals, 32), emb.f32("timestep_embedding.dim_model_channels"), rtol=0)
    check("embeddings.size_cond.embedding", timestep_embedding_f32(emb.f32("size_cond.values"), 256).reshape(1, -1), emb.f32("size_cond.embedding"), rtol=0)

    if failures:
        print(f"reference does NOT reproduce the golden data: {failures}", file=sys.stderr)
        return 1

    def flat(a: np.ndarray) -> list[float]:
        return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).reshape(-1)]

    golden_pooled = enc.f32("p0.pooled").reshape(-1)
    adm_cases = []
    for h, w, s in ADM_TUPLES:
        a = fooocus_adm(golden_pooled, h, w, s)
        a["emphasized"] = flat(a["emphasized"])
        a["consistent"] = flat(a["consistent"])
        adm_cases.append(a)

    prompts_out = []
    for i in JSON_PROMPTS:
        r = results[i]
        n_layers = len(r["hs_l"]) - 1
        prompts_out.append(
            {
                "index": i,
                "text": r["text"],
                "clip_l_ids": r["ids_l"].reshape(-1).tolist(),
                "clip_g_ids": r["ids_g"].reshape(-1).tolist(),
                "chunks": int(r["ids_l"].shape[0]),
                "pooled": flat(r["pooled"]),
                "clip_skip": {
                    str(k): {
                        "hidden_index": len(r["hs_l"]) - k,
                        "clip_l": flat(state_for_clip_skip(r["hs_l"], k)),
                        "clip_g": flat(state_for_clip_skip(r["hs_g"], k)),
                    }
                    for k in CLIP_SKIPS
                },
                "layers": {"clip_l": n_layers, "clip_g": len(r["hs_g"]) - 1},
            }
        )

    first = results[JSON_PROMPTS[0]]
    doc = {
        "generator": "test/reference/clip_reference.py (numpy, float32)",
        "checkpoint": "golden/tiny-sdxl.safetensors",
        "checkpoint_sha256": hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest(),
        "numpy": np.__version__,
        "digits": 7,
        "semantics": {
            "clip_skip": "hidden_states[-clip_skip] of [embeddings, layer 1..L], no final LayerNorm; "
            "with the tiny towers' 2 layers: 1 = layer 2 output, 2 = layer 1 output, 3 = embeddings",
            "pooled": "CLIP-G ln_final(last layer)[argmax ids] @ text_projection, independent of clip_skip",
            "adm": "y = [pooled | E(int(h*s)) E(int(w*s)) E(0) E(0) E(H64) E(W64)] (emphasized), "
            "[pooled | E(H64) E(W64) E(0) E(0) E(H64) E(W64)] (consistent); "
            "H64 = int(round(h/64))*64 with Python round (ties to even); E = 256-wide [cos, sin] float32",
        },
        "shapes": {
            "clip_l": [int(first["ids_l"].shape[0]), int(first["ids_l"].shape[1]), int(first["hs_l"][0].shape[-1])],
            "clip_g": [int(first["ids_g"].shape[0]), int(first["ids_g"].shape[1]), int(first["hs_g"][0].shape[-1])],
        },
        "validation_max_abs_vs_golden": validation,
        "prompts": prompts_out,
        "adm": {"pooled_source": "cases/text_encoders.safetensors p0.pooled", "embed_dim": ADM_EMBED_DIM, "cases": adm_cases},
    }
    text = json.dumps(doc, separators=(",", ":"))
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text) / 1e6:.2f} MB)")
    if len(text) > 3_000_000:
        print("output over 3 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
