#!/usr/bin/env python3
"""Export bert-large-uncased to ONNX in the transformers.js folder layout, for BERTScore.

No hub repository with an ONNX export of bert-large-uncased was found from the machines this
project is built on, so the metric's model is produced here, on any machine with Python:

    pip install "optimum[onnxruntime]" transformers torch onnx
    python scripts/export-bertscore.py OUT
    # then copy OUT to <cache>/google-bert/bert-large-uncased/ (the cache of `inversion-studio`)

OUT gets config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt
and onnx/model.onnx (fp32, opset 14, inputs input_ids / attention_mask / token_type_ids, output
last_hidden_state). The engine (src/main/engine/metrics/bertscore.ts) exposes the hidden state
after encoder layer 17 by graph surgery, finding it by node name
(`/encoder/layer.16/output/LayerNorm/...`); the check below makes sure the export has those
names and that this node's value equals transformers' hidden_states[17] (what bert_score uses
with num_layers=17), so the TypeScript side reads the right layer.
"""
import argparse
import os
import shutil
import sys
import tempfile

MODEL = "google-bert/bert-large-uncased"
LAYER = 17


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--opset", type=int, default=14)
    a = ap.parse_args()

    from optimum.exporters.onnx import main_export

    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        main_export(a.model, output=tmp, task="feature-extraction", opset=a.opset, device="cpu", no_post_process=True)
        for name in os.listdir(tmp):
            src = os.path.join(tmp, name)
            if name.endswith(".onnx") or name.endswith(".onnx_data"):
                shutil.move(src, os.path.join(a.out, "onnx", "model.onnx" if name.endswith(".onnx") else name))
            else:
                shutil.move(src, os.path.join(a.out, name))
    return check(a.out, a.model)


def check(out: str, model_id: str) -> int:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = os.path.join(out, "onnx", "model.onnx")
    m = onnx.load(path)
    prefix = f"/encoder/layer.{LAYER - 1}/output/LayerNorm/"
    group = [n for n in m.graph.node if prefix in n.name]
    if not group:
        print(f"no node named ...{prefix}...: the engine would fall back to counting LayerNorms", file=sys.stderr)
        return 1
    produced = {o for n in group for o in n.output}
    inside = {i for n in group for i in n.input if i in produced}
    value = [o for n in group for o in n.output if o not in inside][-1]
    m.graph.output.append(onnx.helper.make_tensor_value_info(value, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString())
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("a red cat on a blue sofa", return_tensors="np")
    feeds = {i.name: enc[i.name].astype(np.int64) for i in sess.get_inputs()}
    got = sess.run([value], feeds)[0]
    ref = AutoModel.from_pretrained(model_id)
    with torch.no_grad():
        hs = ref(**{k: torch.tensor(v) for k, v in feeds.items()}, output_hidden_states=True).hidden_states[LAYER].numpy()
    err = float(np.abs(got - hs).max())
    print(f"layer {LAYER} ({value}): max |onnx - torch| = {err:.2e}")
    return 0 if err < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
