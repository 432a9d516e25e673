#!/usr/bin/env python3
"""The hostile-input probes of docs/RELIABILITY.md, at full size, against the real binary.

Each probe is the attack or the bad day as it was first tried (a read key sending 190 MB form
fields, a WAV claiming 0 Hz, a page of another site writing, NUL characters, a damaged keyword
index, a write past the request timeout, killed backups, a deleted LOCK, guessed keys, a
restored snapshot's ties, unsupported ranges, what a snapshot holds), and prints one line of
the table per probe. The tests in crates/cli/tests/hostile.rs keep each at a small size.

    python3 bench/hostile_probe.py            (BIN defaults to target/release/music-rag)
    BIN=target/debug/music-rag python3 bench/hostile_probe.py

Standard library only. Works in a temporary directory; nothing is left behind.
"""

import http.client
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
import math

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "target/release/music-rag"))
READ, WRITE, ADMIN = "probe-read-key-01", "probe-write-key-01", "probe-admin-key-01"
KEYS = f"{READ}:read,{WRITE}:write,{ADMIN}:admin"
ROWS = []


def row(probe, result, held):
    ROWS.append((probe, result, "held" if held else "FAILED"))
    print(f"{'ok ' if held else 'BAD'} {probe}: {result}", flush=True)


def run(data, *args, env=None, timeout=600):
    e = dict(os.environ, LOG_LEVEL="error")
    e.update(env or {})
    return subprocess.run([BIN, "--data-dir", data, *args], capture_output=True, text=True,
                          env=e, timeout=timeout)


class Server:
    def __init__(self, data, env=None):
        e = dict(os.environ, LOG_LEVEL="error", MUSIC_RAG_API_KEYS=KEYS)
        e.update(env or {})
        self.proc = subprocess.Popen([BIN, "--data-dir", data, "serve", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=e)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line
        host = line.split("://", 1)[1]
        self.host, self.port = host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1])

    def request(self, method, path, key=None, body=None, headers=None, timeout=120):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if key:
            h["X-API-Key"] = key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, data, dict(r.getheaders())
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            return 0, str(e).encode(), {}
        finally:
            c.close()

    def rss_kb(self, field="VmHWM"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wav(path, seconds=3.0, rate=22050, freq=220.0, claim_rate=None):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    if claim_rate is not None:
        with open(path, "r+b") as f:
            f.seek(24)
            f.write(struct.pack("<II", claim_rate, claim_rate * 2))


def multipart(parts):
    boundary = "probe-boundary-5c1e"
    out = []
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(out)


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build --release --bin music-rag (or set BIN)")
    work = tempfile.mkdtemp(prefix="music-rag-probe-")
    try:
        probes(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| probe | result | |\n|---|---|---|")
    for p, r, h in ROWS:
        print(f"| {p} | {r} | {h} |")


def probes(work):
    data = os.path.join(work, "data")
    r = run(data, "init-sample-data")
    assert r.returncode == 0, r.stderr
    clip = os.path.join(work, "clip.wav")
    wav(clip)
    clip_bytes = open(clip, "rb").read()

    # 1. Eight concurrent 190 MB text fields with a read key.
    s = Server(data)
    before = s.rss_kb("VmRSS")
    ctype, body = multipart([("text", None, b"a" * (190 << 20)), ("file", "c.wav", clip_bytes)])
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(
        s.request("POST", "/v1/search/audio", READ, body, {"Content-Type": ctype})[0]))
        for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    peak = s.rss_kb("VmHWM")
    row("8 × 190 MB form field (read key)",
        f"RSS {before // 1024} → peak {peak // 1024} MB; answers {sorted(set(statuses))} "
        "(0 = closed while sending)", peak - before < 200 * 1024 and 200 not in statuses)

    # 2. A WAV claiming 0 Hz, three times on each upload route.
    bad = os.path.join(work, "zero.wav")
    wav(bad, claim_rate=0)
    ctype, body = multipart([("file", "zero.wav", open(bad, "rb").read())])
    got = [s.request("POST", path, key, body, {"Content-Type": ctype})[0]
           for path, key in [("/v1/tracks/audio", WRITE), ("/v1/search/audio", READ)] for _ in range(3)]
    left = [n for n in os.listdir(os.path.join(data, "uploads"))] if os.path.isdir(
        os.path.join(data, "uploads")) else []
    row("WAV with sample rate 0 over HTTP (6 uploads)", f"statuses {got}; files left in uploads/ {len(left)}",
        set(got) == {422} and not left)
    s.stop()
    folder = os.path.join(work, "folder")
    os.makedirs(folder)
    for i in range(5):
        wav(os.path.join(folder, f"good{i}.wav"), freq=200.0 + 40 * i)
    shutil.copy(bad, os.path.join(folder, "zero.wav"))
    audio_dir = os.path.join(work, "audio-data")
    r = run(audio_dir, "ingest-audio", folder)
    tracks = json.loads(run(audio_dir, "stats", "--json").stdout.splitlines()[-1])["tracks"]
    r2 = run(audio_dir, "similar", bad)
    row("ingest-audio of 5 good WAVs + the 0 Hz one; similar FILE",
        f"exit {r.returncode}, {tracks} imported; similar exit {r2.returncode}",
        r.returncode == 2 and tracks == 5 and r2.returncode == 1)

    # 3. Cross-site writes on a server without keys; snapshot cap.
    s = Server(data, {"MUSIC_RAG_API_KEYS": "", "MUSIC_RAG_SNAPSHOT_KEEP": "7"})
    evil = {"Origin": "https://evil.example", "Content-Type": "text/csv"}
    a = s.request("POST", "/v1/tracks", None, b"id,title,artist\nx1,Planted,Evil\n", evil)[0]
    b = s.request("POST", "/v1/admin/snapshots", None, b"", evil)[0]
    c = s.request("POST", "/v1/tracks", None, b"id,title,artist\nx2,Planted,Evil\n",
                  {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/csv"})[0]
    row("cross-site CSV write / snapshot / Sec-Fetch-Site write (no keys)", f"{a} / {b} / {c}",
        (a, b, c) == (403, 403, 403))
    for _ in range(20):
        s.request("POST", "/v1/admin/snapshots")
    kept = json.loads(s.request("GET", "/v1/admin/snapshots")[1])["snapshots"]
    row("20 snapshots through the API (keep 7)", f"{len(kept)} kept", len(kept) == 7)
    s.stop()

    # 4. NUL in every kind of input (embedded store; the PostgreSQL test covers the other).
    s = Server(data)
    cases = [
        ("PUT", "/v1/tracks/n1", WRITE, {"title": "a\u0000b", "artist": "x"}),
        ("PUT", "/v1/tracks/n2", WRITE, {"title": "t", "artist": "x", "tags": ["\u0000"]}),
        ("PUT", "/v1/tracks/n3", WRITE, {"title": "t", "artist": "x", "description": "d\u0000"}),
        ("POST", "/v1/search", READ, {"text": "x\u0000"}),
        ("POST", "/v1/search", READ, {"text": "x", "filters": {"genres": ["\u0000"]}}),
        ("GET", "/v1/tracks/a%00b", READ, None),
        ("GET", "/v1/tracks?cursor=%00", READ, None),
        ("POST", "/index", WRITE, {"id": "n4", "title": "t\u0000", "artist": "x"}),
    ]
    got = [s.request(m, p, k, b)[0] for m, p, k, b in cases]
    row(f"NUL in {len(cases)} kinds of input", f"statuses {got}", set(got) == {422})

    # 6. A write past the request timeout; a client that stops half way.
    s.stop()
    s = Server(data, {"MUSIC_RAG_REQUEST_TIMEOUT_SECONDS": "3"})
    long = "A slow and gentle piece for piano and strings that goes on and on. " * 20
    batch = {"tracks": [{"id": f"t408-{i}", "title": f"Piece {i}", "artist": "Probe",
                         "description": f"{long} {i}"} for i in range(400)]}
    t0 = time.time()
    status, answer, _ = s.request("POST", "/v1/tracks", WRITE, batch)
    took = time.time() - t0
    stored = sum(1 for i in range(400) if s.request("GET", f"/v1/tracks/t408-{i}", READ)[0] == 200)
    row("400-track write, 3 s request timeout", f"{status} after {took:.1f} s; {stored} of 400 stored",
        status == 200 and stored == 400)
    c = http.client.HTTPConnection(s.host, s.port, timeout=30)
    payload = json.dumps({"tracks": [{"id": "slow", "title": "S", "artist": "S"}]}).encode()
    c.putrequest("POST", "/v1/tracks")
    for k, v in [("X-API-Key", WRITE), ("Content-Type", "application/json"),
                 ("Content-Length", str(len(payload)))]:
        c.putheader(k, v)
    c.endheaders()
    c.send(payload[:10])
    time.sleep(5)
    r = c.getresponse()
    body = json.loads(r.read() or b"null")
    stored = s.request("GET", "/v1/tracks/slow", READ)[0]
    row("client stops sending half way (3 s timeout)",
        f"{r.status} {body and body['error']['code']}; track {'stored' if stored == 200 else 'not stored'}",
        r.status == 408 and stored == 404)

    # 9. Guessed keys.
    t0 = time.time()
    counts = {}
    for i in range(3000):
        st = s.request("GET", "/v1/stats", f"guess-{i:010d}")[0]
        counts[st] = counts.get(st, 0) + 1
    rate = 3000 / (time.time() - t0)
    right = s.request("GET", "/v1/stats", READ)[0]
    row("3,000 guessed keys from one address", f"{counts} at {rate:.0f}/s; right key meanwhile {right}",
        counts.get(401, 0) <= 30 and right == 429)
    s.stop()

    # 8. LOCK deleted under a running server, then a second writer.
    s = Server(data)
    os.remove(os.path.join(data, "LOCK"))
    more = os.path.join(work, "more.jsonl")
    with open(more, "w") as f:
        for i in range(1500):
            f.write(json.dumps({"id": f"lock-{i}", "title": f"L {i}", "artist": "Second"}) + "\n")
    r = run(data, "ingest", more)
    put = s.request("PUT", "/v1/tracks/lock-ok", WRITE, {"title": "Front", "artist": "First"})[0]
    row("rm DATA/LOCK, then ingest 1,500 tracks beside the server",
        f"ingest exit {r.returncode}; server write {put}; LOCK back: {os.path.exists(os.path.join(data, 'LOCK'))}",
        r.returncode != 0 and put == 200)
    s.stop()

    # 7. Killed backups leave partial files; the next start and backup remove them.
    snaps = os.path.join(data, "snapshots")
    for _ in range(14):
        p = subprocess.Popen([BIN, "--data-dir", data, "backup"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.15)
        p.kill()
        p.wait()
    partial = [n for n in os.listdir(snaps) if ".partial" in n]
    run(data, "backup")
    after = [n for n in os.listdir(snaps) if ".partial" in n]
    row("14 backups killed with SIGKILL, then one backup", f"{len(partial)} partial files → {len(after)}",
        not after)

    # 5. A damaged keyword index.
    kw = os.path.join(data, "keyword")
    seg = sorted(n for n in os.listdir(kw) if n.endswith(".idx"))
    os.remove(os.path.join(kw, seg[0]))
    a = run(data, "search", "calm piano", "--json")
    v = run(data, "verify")
    s = Server(data)
    st, body, _ = s.request("POST", "/v1/search", READ, {"text": "jakson five abc", "top_k": 1})
    s.stop()
    r = run(data, "repair")
    v2 = run(data, "verify")
    top = json.loads(body)["hits"][0]["track"]["title"] if st == 200 else "-"
    row("a keyword segment file deleted", f"search exit {a.returncode}; verify exit {v.returncode}; "
        f"serve answers {st} ({top}); repair exit {r.returncode}; verify after {v2.returncode}",
        a.returncode == 0 and v.returncode != 0 and st == 200 and r.returncode == 0 and v2.returncode == 0)

    # 10. Ties after a restore at the same write sequence.
    snap = os.path.join(work, "ties.mrsnap")
    run(data, "backup", "--to", snap)
    restored = os.path.join(work, "restored")
    r = run(restored, "restore", snap)
    assert r.returncode == 0, r.stderr
    queries = ["rock", "jazz", "piano", "calm", "dance", "guitar", "sad", "happy", "drums",
               "love", "night", "classical", "electronic", "waltz", "violin"]
    differ = 0
    for q in queries:
        top = [[h["track"]["id"] for h in json.loads(run(d, "search", q, "-k", "5", "--json").stdout
                                                       .splitlines()[-1])["hits"]]
               for d in (data, restored)]
        differ += top[0] != top[1]
    row("15 queries, top 5, original vs restored snapshot", f"{differ} of 15 differ", differ == 0)

    # 11. Ranges.
    audio = os.path.join(work, "range-data")
    s = Server(audio)
    ctype, body = multipart([("file", "clip.wav", clip_bytes)])
    st, answer, _ = s.request("POST", "/v1/tracks/audio", WRITE, body, {"Content-Type": ctype})
    tid = json.loads(answer)["id"]
    got = {rg: s.request("GET", f"/v1/tracks/{tid}/audio", READ, None, {"Range": rg})[0]
           for rg in ["bytes=0-0,2-3", "items=0-5", "bytes=abc", "bytes=0-99", "bytes=99999999-"]}
    s.stop()
    row("Range variants", ", ".join(f"{k} → {v}" for k, v in got.items()),
        list(got.values()) == [200, 200, 200, 206, 416])

    # 13. What a snapshot holds.
    r = run(audio, "backup")
    said = r.stdout.strip().splitlines()[-1]
    row("backup of a store with an uploaded file", said, "1 audio file" in said)


if __name__ == "__main__":
    main()
