"""The GPU check's training file: 4 answers of a running teacher simulator to every demo query, as chat messages.

    dotnet run --project services/AmDistill.TeacherSim --no-launch-profile --urls http://127.0.0.1:5106 &
    python3 services/trainer-gpu/make-sample-data.py data/demo/queries.jsonl sft.jsonl
"""
import json
import sys
import urllib.request

queries, output = sys.argv[1], sys.argv[2]
url = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:5106/v1/chat/completions"
written = 0
with open(output, "w") as out:
    for line in open(queries):
        question = json.loads(line)["question"]
        body = json.dumps({"model": "deepseek-r1-sim", "messages": [{"role": "user", "content": question}], "n": 4}).encode()
        answer = json.load(urllib.request.urlopen(urllib.request.Request(url, body, {"content-type": "application/json"})))
        for choice in answer["choices"]:
            out.write(json.dumps({"messages": [{"role": "user", "content": question},
                                               {"role": "assistant", "content": choice["message"]["content"]}]}) + "\n")
            written += 1
print(written, "records")
