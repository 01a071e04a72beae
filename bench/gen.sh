#!/usr/bin/env bash
# bench/gen.sh V DIR
#
# Writes a synthetic pipeline shaped like the real one into DIR, in parity's own syntax
# (pipeline.toml) and, for comparison, as an equivalent build.ninja:
#   per (version, target): snap  <- src/<version>/<target>.txt                    (3 targets)
#   per version:           union <- its 3 snaps
#                          report <- its union + the shared wrapper.json
#   one:                   index <- every report
# That is 5V+1 nodes, all `command` rules with cheap commands (cp, cat).
set -euo pipefail
v="${1:?usage: bench/gen.sh V DIR}"
dir="${2:?usage: bench/gen.sh V DIR}"
mkdir -p "$dir"
cd "$dir"
targets=(x86_64-unknown-linux-musl aarch64-apple-darwin x86_64-pc-windows-msvc)

python3 - "$v" "${targets[@]}" <<'PY'
import os, sys
v = int(sys.argv[1]); targets = sys.argv[2:]
versions = [f"0.{i}.0" for i in range(1, v + 1)]
for ver in versions:
    os.makedirs(f"src/{ver}", exist_ok=True)
    for t in targets:
        with open(f"src/{ver}/{t}.txt", "w") as f:
            f.write(f"help text of {ver} on {t}\n")
with open("wrapper.json", "w") as f:
    f.write('{"wrapper": 1}\n')
with open("versions.toml", "w") as f:
    f.write("tracked = [\n" + "".join(f'  "{x}",\n' for x in versions) + "]\n")
with open("pipeline.toml", "w") as f:
    f.write(f'''# Synthetic benchmark pipeline: {v} versions x {len(targets)} targets, {5 * v + 1} nodes.
[params]
version = {{ from = "versions.toml", key = "tracked" }}
target = {targets!r}

[artifact.snap]
rule = "command"
params = ["version", "target"]
inputs = ["src/{{version}}/{{target}}.txt"]
outputs = ["snap/{{version}}/{{target}}.json"]
config = {{ command = "cp $in $out" }}

[artifact.union]
rule = "command"
params = ["version"]
inputs = ["snap@{{version}}/*"]
outputs = ["union/{{version}}.json"]
config = {{ command = "cat $in > $out" }}

[artifact.report]
rule = "command"
params = ["version"]
inputs = ["union@{{version}}", "wrapper.json"]
outputs = ["report/{{version}}.json"]
config = {{ command = "cat $in > $out" }}

[artifact.index]
rule = "command"
inputs = ["report@*"]
outputs = ["index.txt"]
config = {{ command = "cat report/*.json > $out" }}
'''.replace("'", '"'))
with open("build.ninja", "w") as f:
    f.write("rule cp\n  command = cp $in $out\nrule cat\n  command = cat $in > $out\n"
            "rule index\n  command = cat report/*.json > $out\n")
    reports = []
    for ver in versions:
        snaps = []
        for t in targets:
            s = f"snap/{ver}/{t}.json"
            snaps.append(s)
            f.write(f"build {s}: cp src/{ver}/{t}.txt\n")
        f.write(f"build union/{ver}.json: cat {' '.join(snaps)}\n")
        f.write(f"build report/{ver}.json: cat union/{ver}.json wrapper.json\n")
        reports.append(f"report/{ver}.json")
    f.write("build index.txt: index | " + " ".join(reports) + "\n")
PY
echo "$dir: $((5 * v + 1)) nodes"
