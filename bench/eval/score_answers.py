"""Scores any build's answers on a question set through the CLI (`ask --json`), with the rule
of `music-rag eval`: the answer states the expected text and cites source 1, or, for a
question marked "grounded": false, is ungrounded and cites nothing. For comparing builds whose
`eval` predates a set's format (docs/QUALITY.md).

    python3 bench/eval/score_answers.py BINARY DATA_DIR QUESTIONS.jsonl
"""
import collections, json, subprocess, sys

binary, data_dir, path = sys.argv[1:4]
right, total = collections.Counter(), collections.Counter()
for line in open(path):
    q = json.loads(line)
    out = subprocess.run([binary, "--data-dir", data_dir, "--json", "ask", q["query"]],
                         capture_output=True, text=True, check=True).stdout
    a = json.loads(out)
    states = q["answer"] in a["answer"]
    if q.get("grounded") is False:
        ok = states and not a["grounded"] and not a["cited"]
    else:
        ok = states and 1 in a["cited"]
    total[q["kind"]] += 1
    right[q["kind"]] += ok
for kind in sorted(total):
    print(f"{kind}: {100 * right[kind] / total[kind]:.1f} % of {total[kind]}")
print(f"all: {100 * sum(right.values()) / sum(total.values()):.1f} % of {sum(total.values())}")
