#!/usr/bin/env python3
"""Export the EDITOR reference's embedding-to-text pair to Inversion Studio's E2T folder.

The published checkpoints (vec2text design, trained on MS MARCO for Stable Diffusion 1.5's CLIP
text encoder) are PyTorch state dicts:

  Afrostnova/clip-text-msmarco-inversion   the inverter (a T5-base + the embedding projection)
  Afrostnova/clip-text-msmarco-corrector   the corrector (a T5-base + three projections + LayerNorm)

This script reads them (hub ids or local folders), rebuilds the modules with plain
`transformers` (no vec2text install needed), exports each stage as four ONNX graphs in the
layout of docs/e2t.md, writes the T5 tokenizer files and config.json, checks the ONNX graphs
against PyTorch (greedy decoding must give the same tokens), and writes a manifest entry
(manifest.json) listing the files with their sizes and sha256.

Run once, on a machine with Python >= 3.9, torch, transformers, safetensors, onnx and
onnxruntime (huggingface_hub to download):

  python scripts/export-e2t.py --out <cache>/models/sd15/e2t

then `inversion-studio invert --e2t auto ...` finds the pair in the model set's e2t/ folder. Use
`--check-prompt "a photo of a cat"` to also invert one prompt through SD 1.5's CLIP text
encoder (downloads openai/clip-vit-large-patch14's text model).

The stages' graphs (B = batch, R = repeat tokens, H = d_model, S = encoder length, T = new
decoder tokens, P = cached decoder length, V = decoder vocabulary):

  embedding_projection.onnx  inverter: embedding [B, D] -> inputs_embeds [B, R, H]
                             corrector: embedding, hypothesis_embedding [B, D], hypothesis_input_ids
                             [B, T] -> inputs_embeds [B, 4 + 3R + T, H]
                             = LayerNorm([sep, T1(e), sep, T3(h), sep, T2(e - h), sep, embed(ids)])
  encoder_model.onnx         inputs_embeds, attention_mask (int64 [B, S]) -> last_hidden_state [B, S, H]
  cross_kv.onnx              encoder_hidden_states -> cross_key_values.{i}.key/value [B, heads, S, d_kv]
  decoder_model.onnx         input_ids [B, T], encoder_attention_mask [B, S],
                             past_key_values.{i}.key/value [B, heads, P, d_kv] (P may be 0),
                             cross_key_values.{i}.key/value
                             -> logits [B, T, V], present.{i}.key/value [B, heads, P + T, d_kv]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import inspect
import json
import shutil
import sys
import tempfile
from pathlib import Path

DEFAULT_INVERTER = "Afrostnova/clip-text-msmarco-inversion"
DEFAULT_CORRECTOR = "Afrostnova/clip-text-msmarco-corrector"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"
E2T_FORMAT = "inversion-studio-e2t"
STAGE_FILES = ["embedding_projection.onnx", "encoder_model.onnx", "cross_kv.onnx", "decoder_model.onnx"]


def fail(message: str) -> None:
    print(f"export-e2t: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Export the vec2text inverter + corrector of EDITOR to Inversion Studio's E2T layout.")
    p.add_argument("--inverter", default=DEFAULT_INVERTER, help="hub id or folder of the inverter checkpoint")
    p.add_argument("--corrector", default=DEFAULT_CORRECTOR, help="hub id or folder of the corrector checkpoint")
    p.add_argument("--no-corrector", action="store_true", help="export the inverter only (the app then warns and skips correction)")
    p.add_argument("--revision", default="main", help="hub revision of both checkpoints")
    p.add_argument("--out", required=True, help="output folder, e.g. <cache>/models/sd15/e2t")
    p.add_argument("--embedder-dim", type=int, default=768, help="width of the text encoder output (SD 1.5: 768)")
    p.add_argument("--read", choices=["eos", "mean"], default="eos", help="which vector the pair reads (the EDITOR pair: eos = CLIP pooler_output)")
    p.add_argument("--embedder-description", default="Stable Diffusion 1.5 text encoder (CLIP ViT-L/14, openai/clip-vit-large-patch14), pooler_output = EOS row of last_hidden_state")
    p.add_argument("--max-length", type=int, default=None, help="longest decoded sequence incl. the start token (default: the checkpoint's max_seq_length, else 32)")
    p.add_argument("--steps", type=int, default=20, help="default correction steps recorded in config.json")
    p.add_argument("--beam", type=int, default=4, help="default sequence beam recorded in config.json")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--weights", choices=["fp32", "fp16"], default="fp32", help="fp16 stores the weights as half (compute stays float32): half the disk size")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    p.add_argument("--check-prompt", action="append", default=[], help="also invert this prompt through SD 1.5's CLIP text encoder (repeatable)")
    p.add_argument("--clip", default=DEFAULT_CLIP, help="CLIP text model for --check-prompt")
    p.add_argument("--manifest-id", default="e2t-sd15")
    p.add_argument("--hub-repo", default=DEFAULT_INVERTER, help="owner/name recorded in manifest.json (where you would host the export)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------
# Reading the checkpoints


def resolve_source(src: str, revision: str) -> Path:
    folder = Path(src)
    if folder.is_dir():
        return folder
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        fail(f"{src} is not a folder and huggingface_hub is not installed to download it (pip install huggingface_hub)")
    return Path(snapshot_download(src, revision=revision, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt", "*.md"]))


def load_state_dict(folder: Path):
    import torch

    files = sorted(folder.glob("*.safetensors"))
    state = {}
    if files:
        from safetensors.torch import load_file

        for f in files:
            state.update(load_file(str(f)))
    else:
        bins = sorted(folder.glob("pytorch_model*.bin"))
        if not bins:
            fail(f"{folder} has neither *.safetensors nor pytorch_model*.bin")
        for f in bins:
            try:
                part = torch.load(str(f), map_location="cpu", weights_only=True)
            except TypeError:  # torch < 1.13
                part = torch.load(str(f), map_location="cpu")
            state.update(part)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def read_json(path: Path) -> dict:
    if not path.exists():
        fail(f"{path} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def build_t5(state: dict, model_name: str, what: str):
    """T5ForConditionalGeneration with the checkpoint's `encoder_decoder.*` weights."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(model_name)
    if config.model_type != "t5":
        fail(f"the {what} is built on {model_name} ({config.model_type}); this exporter handles T5 encoder-decoders")
    model = transformers.T5ForConditionalGeneration(config).eval()
    prefix = "encoder_decoder."
    sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not sub:
        fail(f"the {what} checkpoint has no encoder_decoder.* weights (is it a vec2text checkpoint?)")
    # Tied tensors are saved once, under any of their names.
    if "shared.weight" not in sub:
        aliases = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"] + (["lm_head.weight"] if config.tie_word_embeddings else [])
        found = next((a for a in aliases if a in sub), None)
        if found is None:
            fail(f"the {what} checkpoint has no token embedding (shared.weight)")
        sub["shared.weight"] = sub[found]
    missing, unexpected = model.load_state_dict(sub, strict=False)
    tied = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}
    really_missing = [k for k in missing if k not in tied]
    if "lm_head.weight" in missing and not config.tie_word_embeddings:
        really_missing.append("lm_head.weight")
    if really_missing:
        fail(f"the {what} checkpoint lacks {', '.join(really_missing[:8])}{' ...' if len(really_missing) > 8 else ''}")
    if unexpected:
        print(f"  note: ignoring {len(unexpected)} unexpected T5 weights of the {what} (e.g. {unexpected[0]})")
    model.tie_weights()
    if sub["shared.weight"].shape[0] != config.vocab_size:
        fail(f"the {what}'s embedding has {sub['shared.weight'].shape[0]} rows, {model_name}'s config says {config.vocab_size}")
    return model


def build_mlp(state: dict, prefix: str, what: str):
    """vec2text's embedding transform: Linear(D, bottleneck) -> Dropout -> GELU -> Linear(bottleneck, H * R)."""
    import torch.nn as nn

    keys = [f"{prefix}.0.weight", f"{prefix}.0.bias", f"{prefix}.3.weight", f"{prefix}.3.bias"]
    absent = [k for k in keys if k not in state]
    if absent:
        fail(f"the {what} checkpoint lacks {', '.join(absent)}")
    w0, b0, w3, b3 = (state[k] for k in keys)
    mlp = nn.Sequential(nn.Linear(w0.shape[1], w0.shape[0]), nn.Dropout(0.0), nn.GELU(), nn.Linear(w3.shape[1], w3.shape[0]))
    mlp[0].weight.data.copy_(w0)
    mlp[0].bias.data.copy_(b0)
    mlp[3].weight.data.copy_(w3)
    mlp[3].bias.data.copy_(b3)
    return mlp.eval()


# ---------------------------------------------------------------------------------------------
# The exported modules


def make_modules():
    import torch
    import torch.nn as nn

    class InverterProjection(nn.Module):
        def __init__(self, mlp, repeat, hidden):
            super().__init__()
            self.mlp, self.repeat, self.hidden = mlp, repeat, hidden

        def forward(self, embedding):
            return self.mlp(embedding).reshape(embedding.shape[0], self.repeat, self.hidden)

    class CorrectorProjection(nn.Module):
        """vec2text CorrectorEncoderModel.get_encoder_embedding (inference: no embedding noise)."""

        def __init__(self, t1, t2, t3, shared, layernorm, sep_id, repeat, hidden):
            super().__init__()
            self.t1, self.t2, self.t3, self.shared, self.layernorm = t1, t2, t3, shared, layernorm
            self.sep_id, self.repeat, self.hidden = sep_id, repeat, hidden

        def forward(self, embedding, hypothesis_embedding, hypothesis_input_ids):
            b = embedding.shape[0]
            diff = embedding - hypothesis_embedding
            e = self.t1(embedding).reshape(b, self.repeat, self.hidden)
            d = self.t2(diff).reshape(b, self.repeat, self.hidden)
            h = self.t3(hypothesis_embedding).reshape(b, self.repeat, self.hidden)
            tokens = self.shared(hypothesis_input_ids)
            sep = self.shared(torch.zeros_like(hypothesis_input_ids[:, :1]) + self.sep_id)
            return self.layernorm(torch.cat([sep, e, sep, h, sep, d, sep, tokens], dim=1))

    class Encoder(nn.Module):
        def __init__(self, t5):
            super().__init__()
            self.encoder = t5.encoder

        def forward(self, inputs_embeds, attention_mask):
            out = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask, use_cache=False, return_dict=True)
            return out.last_hidden_state

    class CrossKv(nn.Module):
        def __init__(self, t5):
            super().__init__()
            self.blocks = t5.decoder.block
            self.heads, self.d_kv = t5.config.num_heads, t5.config.d_kv

        def forward(self, encoder_hidden_states):
            b = encoder_hidden_states.shape[0]
            out = []
            for block in self.blocks:
                att = block.layer[1].EncDecAttention
                for proj in (att.k, att.v):
                    out.append(proj(encoder_hidden_states).reshape(b, -1, self.heads, self.d_kv).transpose(1, 2))
            return tuple(out)

    class Decoder(nn.Module):
        """T5's decoder stack + LM head, one call per step with an explicit self-attention cache.

        Written from the modules' weights (layer norms, q/k/v/o, the first layer's relative
        position bias, the feed-forward layers) so the exported graph does not depend on the
        cache classes of a transformers version; `verify` compares it with T5's own forward.
        """

        def __init__(self, t5):
            super().__init__()
            cfg = t5.config
            self.blocks = t5.decoder.block
            self.final_layer_norm = t5.decoder.final_layer_norm
            self.shared = t5.shared
            self.lm_head = t5.lm_head
            self.heads, self.d_kv = cfg.num_heads, cfg.d_kv
            self.scale = cfg.d_model ** -0.5 if cfg.tie_word_embeddings else None
            first = self.blocks[0].layer[0].SelfAttention
            self.relative_attention_bias = first.relative_attention_bias
            self.num_buckets = cfg.relative_attention_num_buckets
            self.max_distance = cfg.relative_attention_max_distance
            self.bucket = type(first)._relative_position_bucket

        def split(self, x):
            return x.reshape(x.shape[0], -1, self.heads, self.d_kv).transpose(1, 2)

        def merge(self, x):
            return x.transpose(1, 2).reshape(x.shape[0], -1, self.heads * self.d_kv)

        @staticmethod
        def attend(q, k, v, bias):
            scores = torch.matmul(q, k.transpose(-1, -2)) + bias  # T5: no 1/sqrt(d) scaling
            return torch.matmul(torch.softmax(scores.float(), dim=-1).type_as(scores), v)

        def forward(self, input_ids, encoder_attention_mask, *kv):
            n = len(self.blocks)
            past, cross = kv[: 2 * n], kv[2 * n :]
            x = self.shared(input_ids)
            t = input_ids.shape[1]
            p = past[0].shape[2]
            q_pos = torch.arange(t, device=x.device) + p
            k_pos = torch.arange(p + t, device=x.device)
            rel = k_pos[None, :] - q_pos[:, None]
            buckets = self.bucket(rel, bidirectional=False, num_buckets=self.num_buckets, max_distance=self.max_distance)
            min_value = torch.finfo(x.dtype).min
            causal = (rel > 0).to(x.dtype) * min_value
            self_bias = self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0) + causal
            cross_bias = (1.0 - encoder_attention_mask[:, None, None, :].to(x.dtype)) * min_value
            presents = []
            for i, block in enumerate(self.blocks):
                sa = block.layer[0]
                h = sa.layer_norm(x)
                att = sa.SelfAttention
                k = torch.cat([past[2 * i], self.split(att.k(h))], dim=2)
                v = torch.cat([past[2 * i + 1], self.split(att.v(h))], dim=2)
                presents += [k, v]
                x = x + att.o(self.merge(self.attend(self.split(att.q(h)), k, v, self_bias)))
                ca = block.layer[1]
                h = ca.layer_norm(x)
                att = ca.EncDecAttention
                x = x + att.o(self.merge(self.attend(self.split(att.q(h)), cross[2 * i], cross[2 * i + 1], cross_bias)))
                x = block.layer[2](x)  # T5LayerFF: layer norm, DenseReluDense, residual
            x = self.final_layer_norm(x)
            if self.scale is not None:
                x = x * self.scale
            return (self.lm_head(x), *presents)

    return InverterProjection, CorrectorProjection, Encoder, CrossKv, Decoder


# ---------------------------------------------------------------------------------------------
# Export


def onnx_export(module, args, path: Path, inputs, outputs, axes, opset: int) -> None:
    import torch

    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: plain ai.onnx ops, dynamic axes as given
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            **kwargs,
        )


def to_fp16_storage(path: Path) -> None:
    """Store float32 initializers as float16 followed by a Cast to float (compute stays float32)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < 1024:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name=f"{init.name}__fp16")
        casts.append((init.name, half))
    for name, half in casts:
        for i, init in enumerate(graph.initializer):
            if init.name == name:
                del graph.initializer[i]
                break
        graph.initializer.append(half)
    nodes = [helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT, name=f"{name}__cast") for name, half in casts]
    for node in reversed(nodes):
        graph.node.insert(0, node)
    onnx.save(model, str(path))


def export_stage(kind: str, t5, projection, out: Path, args, din: int) -> dict:
    import torch

    _, _, Encoder, CrossKv, Decoder = make_modules()
    cfg = t5.config
    n, heads, d_kv, hidden = cfg.num_decoder_layers, cfg.num_heads, cfg.d_kv, cfg.d_model
    folder = out / kind
    b, s, t, p = 2, 7, 3, 4
    print(f"  exporting {kind}/embedding_projection.onnx")
    if kind == "inverter":
        onnx_export(
            projection,
            (torch.randn(b, din),),
            folder / "embedding_projection.onnx",
            ["embedding"],
            ["inputs_embeds"],
            {"embedding": {0: "batch"}, "inputs_embeds": {0: "batch"}},
            args.opset,
        )
    else:
        onnx_export(
            projection,
            (torch.randn(b, din), torch.randn(b, din), torch.randint(3, 100, (b, t))),
            folder / "embedding_projection.onnx",
            ["embedding", "hypothesis_embedding", "hypothesis_input_ids"],
            ["inputs_embeds"],
            {
                "embedding": {0: "batch"},
                "hypothesis_embedding": {0: "batch"},
                "hypothesis_input_ids": {0: "batch", 1: "hypothesis_length"},
                "inputs_embeds": {0: "batch", 1: "encoder_sequence_length"},
            },
            args.opset,
        )
    print(f"  exporting {kind}/encoder_model.onnx")
    onnx_export(
        Encoder(t5).eval(),
        (torch.randn(b, s, hidden), torch.ones(b, s, dtype=torch.long)),
        folder / "encoder_model.onnx",
        ["inputs_embeds", "attention_mask"],
        ["last_hidden_state"],
        {k: {0: "batch", 1: "encoder_sequence_length"} for k in ["inputs_embeds", "attention_mask", "last_hidden_state"]},
        args.opset,
    )
    cross_names = [f"cross_key_values.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
    print(f"  exporting {kind}/cross_kv.onnx")
    onnx_export(
        CrossKv(t5).eval(),
        (torch.randn(b, s, hidden),),
        folder / "cross_kv.onnx",
        ["encoder_hidden_states"],
        cross_names,
        {"encoder_hidden_states": {0: "batch", 1: "encoder_sequence_length"}, **{k: {0: "batch", 2: "encoder_sequence_length"} for k in cross_names}},
        args.opset,
    )
    past_names = [f"past_key_values.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
    dec_args = (
        torch.randint(3, 100, (b, t)),
        torch.ones(b, s, dtype=torch.long),
        *[torch.randn(b, heads, p, d_kv) for _ in past_names],
        *[torch.randn(b, heads, s, d_kv) for _ in cross_names],
    )
    axes = {
        "input_ids": {0: "batch", 1: "decoder_sequence_length"},
        "encoder_attention_mask": {0: "batch", 1: "encoder_sequence_length"},
        "logits": {0: "batch", 1: "decoder_sequence_length"},
        **{k: {0: "batch", 2: "past_sequence_length"} for k in past_names},
        **{k: {0: "batch", 2: "encoder_sequence_length"} for k in cross_names},
        **{k: {0: "batch", 2: "total_sequence_length"} for k in present_names},
    }
    print(f"  exporting {kind}/decoder_model.onnx")
    onnx_export(
        Decoder(t5).eval(),
        dec_args,
        folder / "decoder_model.onnx",
        ["input_ids", "encoder_attention_mask", *past_names, *cross_names],
        ["logits", *present_names],
        axes,
        args.opset,
    )
    if args.weights == "fp16":
        for f in STAGE_FILES:
            to_fp16_storage(folder / f)
    return {
        "numRepeatTokens": None,  # filled by the caller
        "dModel": hidden,
        "numHeads": heads,
        "dKv": d_kv,
        "numDecoderLayers": n,
        "vocabSize": cfg.vocab_size,
    }


# ---------------------------------------------------------------------------------------------
# Verification: onnxruntime against PyTorch


class OnnxStage:
    def __init__(self, folder: Path, layers: int, heads: int, d_kv: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        self.s = {f: ort.InferenceSession(str(folder / f), opts, providers=["CPUExecutionProvider"]) for f in STAGE_FILES}
        self.layers, self.heads, self.d_kv = layers, heads, d_kv

    def encode(self, feeds: dict, mask):
        embeds = self.s["embedding_projection.onnx"].run(["inputs_embeds"], feeds)[0]
        hidden = self.s["encoder_model.onnx"].run(["last_hidden_state"], {"inputs_embeds": embeds, "attention_mask": mask})[0]
        names = [o.name for o in self.s["cross_kv.onnx"].get_outputs()]
        cross = dict(zip(names, self.s["cross_kv.onnx"].run(names, {"encoder_hidden_states": hidden})))
        return embeds, hidden, cross

    def greedy(self, cross: dict, mask, start: int, eos: int, pad: int, max_length: int):
        import numpy as np

        b = mask.shape[0]
        seqs = np.full((b, 1), start, dtype=np.int64)
        past = {f"past_key_values.{i}.{kv}": np.zeros((b, self.heads, 0, self.d_kv), np.float32) for i in range(self.layers) for kv in ("key", "value")}
        done = np.zeros(b, dtype=bool)
        dec = self.s["decoder_model.onnx"]
        out_names = [o.name for o in dec.get_outputs()]
        while seqs.shape[1] < max_length and not done.all():
            outs = dict(zip(out_names, dec.run(out_names, {"input_ids": seqs[:, -1:], "encoder_attention_mask": mask, **past, **cross})))
            nxt = outs["logits"][:, -1].argmax(-1)
            nxt = np.where(done, pad, nxt)
            done |= nxt == eos
            seqs = np.concatenate([seqs, nxt[:, None]], axis=1)
            past = {k: outs[k.replace("past_key_values", "present")] for k in past}
        return seqs

    def full_logits(self, cross: dict, mask, ids):
        import numpy as np

        b = ids.shape[0]
        past = {f"past_key_values.{i}.{kv}": np.zeros((b, self.heads, 0, self.d_kv), np.float32) for i in range(self.layers) for kv in ("key", "value")}
        return self.s["decoder_model.onnx"].run(["logits"], {"input_ids": ids, "encoder_attention_mask": mask, **past, **cross})[0]


def torch_generate(t5, embeds, mask, max_length: int):
    """What vec2text runs: T5.generate from inputs_embeds (greedy, as for the first hypothesis)."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    with torch.no_grad():
        hidden = t5.encoder(inputs_embeds=embeds, attention_mask=mask, use_cache=False, return_dict=True).last_hidden_state
        ids = t5.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_length=max_length,
            num_beams=1,
            do_sample=False,
            no_repeat_ngram_size=0,
            early_stopping=False,
        )
        logits = t5(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask, decoder_input_ids=ids).logits
    return hidden, ids, logits


def compare(what: str, ours, ref, tol: float) -> float:
    import numpy as np

    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(ref, dtype=np.float64))))
    status = "ok" if diff <= tol else "MISMATCH"
    print(f"    {what}: max |onnx - torch| = {diff:.2e} ({status})")
    if diff > tol:
        fail(f"{what} differs from PyTorch by {diff:.2e} (> {tol}); the export is wrong for this transformers/torch version. Please report it with the versions printed above.")
    return diff


def verify(kind: str, folder: Path, t5, projection, din: int, max_length: int, hypothesis=None) -> dict:
    """Greedy decoding through the ONNX graphs must reproduce T5's own generate() on the same inputs."""
    import numpy as np
    import torch

    cfg = t5.config
    stage = OnnxStage(folder, cfg.num_decoder_layers, cfg.num_heads, cfg.d_kv)
    g = torch.Generator().manual_seed(0)
    e = torch.randn(3, din, generator=g)
    with torch.no_grad():
        if kind == "inverter":
            embeds = projection(e)
            feeds = {"embedding": e.numpy()}
            mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        else:
            ids, h = hypothesis
            embeds = projection(e, h, ids)
            feeds = {"embedding": e.numpy(), "hypothesis_embedding": h.numpy(), "hypothesis_input_ids": ids.numpy()}
            r = projection.repeat
            mask = torch.cat([torch.ones(ids.shape[0], 4 + 3 * r, dtype=torch.long), (ids != cfg.pad_token_id).long()], dim=1)
    hidden, ref_ids, ref_logits = torch_generate(t5, embeds, mask, max_length)
    o_embeds, o_hidden, cross = stage.encode(feeds, mask.numpy())
    report = {
        "projection": compare(f"{kind} projection", o_embeds, embeds.numpy(), 1e-4),
        "encoder": compare(f"{kind} encoder", o_hidden, hidden.numpy(), 2e-3),
    }
    ours = stage.greedy(cross, mask.numpy(), cfg.decoder_start_token_id, cfg.eos_token_id, cfg.pad_token_id, max_length)
    ref = ref_ids.numpy()
    width = max(ours.shape[1], ref.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=cfg.pad_token_id)  # noqa: E731
    same = bool((pad(ours) == pad(ref)).all())
    print(f"    {kind} greedy decode: {'same tokens as T5.generate' if same else 'DIFFERENT tokens'}")
    report["logits"] = compare(f"{kind} decoder logits", stage.full_logits(cross, mask.numpy(), ref), ref_logits.numpy(), 2e-2)
    if not same:
        fail(f"the ONNX {kind} decodes differently from T5.generate: {ours.tolist()} vs {ref.tolist()}")
    report["greedySameAsTorch"] = True
    return report, ref_ids, e


# ---------------------------------------------------------------------------------------------
# Optional: invert real prompts through SD 1.5's CLIP text encoder


def check_prompts(prompts, out: Path, clip_name: str, t5_tokenizer, cfg_json: dict) -> None:
    import numpy as np
    import torch
    import transformers

    print(f"checking with {clip_name}")
    tok = transformers.CLIPTokenizer.from_pretrained(clip_name)
    clip = transformers.CLIPTextModel.from_pretrained(clip_name).eval()

    def embed(texts):
        enc = tok(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
        with torch.no_grad():
            o = clip(**enc)
        eos = enc.input_ids.argmax(-1) if tok.eos_token_id == 49407 else (enc.input_ids == tok.eos_token_id).int().argmax(-1)
        rows = o.last_hidden_state[torch.arange(len(texts)), eos]
        if not torch.allclose(rows, o.pooler_output, atol=1e-5):
            print("  note: pooler_output is not the EOS row for this CLIP build")
        return o.pooler_output.numpy()

    gen = cfg_json["generation"]
    inv = OnnxStage(out / "inverter", cfg_json["inverter"]["numDecoderLayers"], cfg_json["inverter"]["numHeads"], cfg_json["inverter"]["dKv"])
    cor = None
    if "corrector" in cfg_json:
        c = cfg_json["corrector"]
        cor = OnnxStage(out / "corrector", c["numDecoderLayers"], c["numHeads"], c["dKv"])
    for prompt in prompts:
        e = embed([prompt])
        r = cfg_json["inverter"]["numRepeatTokens"]
        _, _, cross = inv.encode({"embedding": e}, np.ones((1, r), np.int64))
        ids = inv.greedy(cross, np.ones((1, r), np.int64), gen["decoderStartTokenId"], gen["eosTokenId"], gen["padTokenId"], gen["maxLength"])
        text = t5_tokenizer.decode(ids[0], skip_special_tokens=True)
        print(f"  {prompt!r}\n    inverter: {text!r}")
        if cor is None:
            continue
        for _ in range(5):  # a few greedy corrections (the app runs 20 with beam 4)
            h = embed([text])
            mask = np.concatenate([np.ones((1, 4 + 3 * r), np.int64), (ids != gen["padTokenId"]).astype(np.int64)], axis=1)
            _, _, cross = cor.encode({"embedding": e, "hypothesis_embedding": h, "hypothesis_input_ids": ids}, mask)
            ids = cor.greedy(cross, mask, gen["decoderStartTokenId"], gen["eosTokenId"], gen["padTokenId"], gen["maxLength"])
            text = t5_tokenizer.decode(ids[0], skip_special_tokens=True)
        cos = float((e @ embed([text]).T)[0, 0] / (np.linalg.norm(e) * np.linalg.norm(embed([text]))))
        print(f"    after 5 greedy corrections: {text!r} (cosine {cos:.3f})")


# ---------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    args = parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        fail(f"needs torch and transformers ({e}); pip install torch transformers safetensors onnx onnxruntime huggingface_hub")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            fail(f"{out} is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".e2t-export-", dir=str(out.parent)))
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    InverterProjection, CorrectorProjection, _, _, _ = make_modules()

    # Inverter
    print(f"inverter: {args.inverter}")
    inv_dir = resolve_source(args.inverter, args.revision)
    inv_cfg = read_json(inv_dir / "config.json")
    base = inv_cfg.get("model_name_or_path", "t5-base")
    repeat = int(inv_cfg.get("num_repeat_tokens", 16))
    max_length = args.max_length or int(inv_cfg.get("max_seq_length", 32))
    inv_state = load_state_dict(inv_dir)
    inv_t5 = build_t5(inv_state, base, "inverter")
    mlp = build_mlp(inv_state, "embedding_transform", "inverter")
    din = mlp[0].in_features
    hidden = inv_t5.config.d_model
    if din != args.embedder_dim:
        fail(f"the inverter reads {din}-wide vectors, --embedder-dim says {args.embedder_dim}")
    if mlp[3].out_features != hidden * repeat:
        fail(f"the inverter projects to {mlp[3].out_features} values, expected d_model {hidden} x {repeat} repeat tokens")
    inv_proj = InverterProjection(mlp, repeat, hidden).eval()
    inv_stage = export_stage("inverter", inv_t5, inv_proj, work, args, din)
    inv_stage["numRepeatTokens"] = repeat

    # Corrector
    cor_stage = None
    cor_t5 = cor_proj = None
    if not args.no_corrector:
        print(f"corrector: {args.corrector}")
        cor_dir = resolve_source(args.corrector, args.revision)
        cor_cfg = read_json(cor_dir / "config.json")
        cor_state = load_state_dict(cor_dir)
        if "embedding_transform.0.weight" in cor_state and "embedding_transform_1.0.weight" not in cor_state:
            # vec2text's backward compatibility: old correctors shared one transform for all three inputs.
            for i in (1, 2, 3):
                for part in ("0.weight", "0.bias", "3.weight", "3.bias"):
                    cor_state[f"embedding_transform_{i}.{part}"] = cor_state[f"embedding_transform.{part}"]
        cor_t5 = build_t5(cor_state, cor_cfg.get("model_name_or_path", base), "corrector")
        t1, t2, t3 = (build_mlp(cor_state, f"embedding_transform_{i}", "corrector") for i in (1, 2, 3))
        if "layernorm.weight" not in cor_state:
            fail("the corrector checkpoint has no layernorm.weight (vec2text's corrector normalises its input sequence)")
        ln = torch.nn.LayerNorm(cor_t5.config.d_model)
        ln.weight.data.copy_(cor_state["layernorm.weight"])
        ln.bias.data.copy_(cor_state["layernorm.bias"])
        cor_repeat = int(cor_cfg.get("num_repeat_tokens", repeat))
        if t1[0].in_features != din:
            fail(f"the corrector reads {t1[0].in_features}-wide vectors, the inverter {din}")
        cor_proj = CorrectorProjection(t1, t2, t3, cor_t5.shared, ln.eval(), cor_t5.config.eos_token_id, cor_repeat, cor_t5.config.d_model).eval()
        cor_stage = export_stage("corrector", cor_t5, cor_proj, work, args, din)
        cor_stage["numRepeatTokens"] = cor_repeat

    # Tokenizer (the decoders' T5 tokenizer)
    t5_tok = transformers.AutoTokenizer.from_pretrained(base, use_fast=True)
    tok_tmp = work / "_tokenizer"
    t5_tok.save_pretrained(str(tok_tmp))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if not (tok_tmp / f).exists():
            fail(f"the {base} tokenizer did not save {f} (install the `tokenizers` package for the fast tokenizer)")
        shutil.copy(tok_tmp / f, work / f)
    shutil.rmtree(tok_tmp)
    if len(t5_tok) > inv_t5.config.vocab_size:
        fail(f"the tokenizer has {len(t5_tok)} ids but the decoder only {inv_t5.config.vocab_size} outputs")

    # Verification
    verification = None
    if not args.no_verify:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            fail("onnxruntime is needed for the verification (pip install onnxruntime), or pass --no-verify")
        print("verifying the ONNX graphs against PyTorch")
        verification = {}
        verification["inverter"], hyp_ids, e = verify("inverter", work / "inverter", inv_t5, inv_proj, din, max_length)
        if cor_stage:
            h = e + 0.1 * torch.randn(e.shape, generator=torch.Generator().manual_seed(1))
            verification["corrector"], _, _ = verify("corrector", work / "corrector", cor_t5, cor_proj, din, max_length, (hyp_ids, h))

    config = {
        "format": E2T_FORMAT,
        "version": 1,
        "architecture": "vec2text-t5",
        "embedder": {"dim": args.embedder_dim, "read": args.read, "description": args.embedder_description},
        "inverter": inv_stage,
        **({"corrector": cor_stage} if cor_stage else {}),
        "generation": {
            "maxLength": max_length,
            "decoderStartTokenId": inv_t5.config.decoder_start_token_id,
            "eosTokenId": inv_t5.config.eos_token_id,
            "padTokenId": inv_t5.config.pad_token_id,
            "lengthPenalty": 1.0,
        },
        "defaults": {"steps": args.steps, "beam": args.beam},
        "source": {
            "exporter": "scripts/export-e2t.py",
            "exportedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "inverter": args.inverter,
            **({"corrector": args.corrector} if cor_stage else {}),
            "revision": args.revision,
            "baseModel": base,
            "vec2textConfig": {k: inv_cfg[k] for k in sorted(inv_cfg) if isinstance(inv_cfg[k], (str, int, float, bool))},
            "weights": args.weights,
            "opset": args.opset,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            **({"verification": verification} if verification else {}),
        },
    }
    (work / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    if args.check_prompt:
        check_prompts(args.check_prompt, work, args.clip, t5_tok, config)

    if out.exists():
        out.rmdir()
    shutil.move(str(work), str(out))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {
        "id": args.manifest_id,
        "title": "E2T pair (vec2text inverter + corrector) for SD 1.5, exported to ONNX",
        "kind": "e2t",
        "hubRepo": args.hub_repo,
        "revision": "main",
        "files": [{"path": p.relative_to(out).as_posix(), "size": p.stat().st_size, "sha256": sha256(p)} for p in files],
        "notes": f"Exported by scripts/export-e2t.py from {args.inverter}" + (f" and {args.corrector}" if cor_stage else "") + f" (revision {args.revision}) on {config['source']['exportedAt']}.",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in files)
    print(f"wrote {out} ({len(files)} files, {total / 1e9:.2f} GB) and {out / 'manifest.json'}")


if __name__ == "__main__":
    main()
