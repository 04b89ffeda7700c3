#!/usr/bin/env python3
"""embed_ref.py MODEL IDS_FILE: Qwen3-Embedding's pooling over the numpy reference forward pass
(qwen3_ref.py, written from transformers' modeling code): for each line of comma-separated ids, the
final hidden state (after model.norm, transformers' last_hidden_state) of the last token, divided by
its L2 norm (the model card's last_token_pool + F.normalize(p=2)). Prints one JSON array per line.
Each line is a sequence of its own (a fresh reference model), as one input of a batch with left
padding is in transformers."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen3_ref import Qwen3Ref  # noqa: E402


def main(model, ids_file):
    for line in open(ids_file):
        ids = [int(x) for x in line.replace(",", " ").split()]
        if not ids:
            continue
        h = Qwen3Ref(model).forward(ids)[-1]
        h = h / max(np.linalg.norm(h), 1e-12)
        print(json.dumps([float(x) for x in h]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
