#!/usr/bin/env bash
# Runs the Dockerfile's steps without a container builder, on a clean clone
# of the committed tree: for machines where no Docker daemon answers.
#
#   scripts/image-build-steps.sh [COMMIT]     (default HEAD; takes ~2-3 min: npm ci compiles better-sqlite3)
#
# It reads the Dockerfile itself, so it follows it as it changes: each stage
# gets a root directory under a temp dir standing for `/`; WORKDIR, ENV, COPY
# (from the clone, or --from=build) and RUN are carried out there, with
# container paths mapped into that root. Not carried out: FROM (this machine's
# Node and Debian stand for node:20-bookworm-slim), RUN lines that need root
# (apt-get, chown: their tools are checked for instead) and USER (the steps
# run as whoever runs this). Then the runtime stage's ENTRYPOINT runs
# `--help` and `serve --help` from the pruned tree, whose node_modules must
# hold no dev dependency.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$repo" rev-parse "${1:-HEAD}")"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes are not built; building commit $commit" >&2
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/telex-image-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "--- clean clone of $commit in $work/src"
git clone --quiet --no-checkout "$repo" "$work/src"
git -C "$work/src" checkout --quiet --detach "$commit"
context="$work/src"
[ -f "$context/Dockerfile" ] || { echo "no Dockerfile in commit $commit" >&2; exit 1; }

node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" = 20 ] || echo "warning: Node $node_major here; the image runs Node 20" >&2
for tool in python3 make g++; do
  command -v "$tool" >/dev/null || { echo "missing $tool (the build stage installs it with apt-get)" >&2; exit 1; }
done

# Dockerfile instructions, one a line (continuations joined, comments dropped).
instructions() {
  awk '
    /^[[:space:]]*#/ && cont == "" { next }
    { line = cont $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, "", line); cont = line " "; next }
    { cont = ""; if (line ~ /[^[:space:]]/) print line }
  ' "$context/Dockerfile"
}

stage=-1
declare -a roots=() names=()
cwd=/
entrypoint=""
in_root() { printf '%s%s' "${roots[$stage]}" "$1"; }
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "${cwd%/}" "$1" ;; esac; }

while IFS= read -r line; do
  keyword="${line%%[[:space:]]*}"
  rest="${line#"$keyword"}"
  rest="${rest#"${rest%%[![:space:]]*}"}"
  case "${keyword^^}" in
    FROM)
      stage=$((stage + 1))
      roots[stage]="$work/stage$stage"
      names[stage]="$(sed -nE 's/.*[[:space:]][Aa][Ss][[:space:]]+([^[:space:]]+).*/\1/p' <<<"$rest")"
      mkdir -p "${roots[stage]}"
      cwd=/
      echo "--- stage $stage${names[stage]:+ (${names[stage]})}: FROM $rest"
      ;;
    WORKDIR)
      cwd="$(abs "$rest")"
      mkdir -p "$(in_root "$cwd")"
      ;;
    ENV)
      export "${rest%%=*}=${rest#*=}"
      echo "ENV $rest"
      ;;
    COPY)
      from=""
      if [[ "$rest" == --from=* ]]; then
        from="${rest%%[[:space:]]*}"
        from="${from#--from=}"
        rest="${rest#*[[:space:]]}"
      fi
      read -r -a parts <<<"$rest"
      dest="$(abs "${parts[-1]}")"
      unset 'parts[-1]'
      for source in "${parts[@]}"; do
        if [ -n "$from" ]; then
          src_stage=-1
          for i in "${!names[@]}"; do [ "${names[$i]}" = "$from" ] && src_stage=$i; done
          [ "$src_stage" -ge 0 ] || { echo "COPY --from=$from: no such stage" >&2; exit 1; }
          origin="${roots[$src_stage]}$source"
        else
          origin="$context/$source"
        fi
        target="$(in_root "$dest")"
        if [[ "$dest" == */ ]]; then mkdir -p "$target"; target="$target/$(basename "$source")"; fi
        mkdir -p "$(dirname "$target")"
        cp -a "$origin" "$target"
      done
      echo "COPY ${from:+--from=$from }$rest"
      ;;
    RUN)
      if grep -qE '(^|[[:space:]&;])(apt-get|chown)[[:space:]]' <<<"$rest"; then
        echo "RUN (needs root; not run here) $rest"
        continue
      fi
      echo "RUN $rest"
      (cd "$(in_root "$cwd")" && bash -euo pipefail -c "$rest")
      ;;
    ENTRYPOINT) entrypoint="$rest" ;;
    USER | EXPOSE | CMD | ARG | LABEL) echo "$keyword $rest (noted)" ;;
    *)
      echo "unhandled Dockerfile instruction: $line" >&2
      exit 1
      ;;
  esac
done < <(instructions)

[ -n "$entrypoint" ] || { echo "the Dockerfile has no ENTRYPOINT" >&2; exit 1; }
echo "--- runtime stage: ENTRYPOINT $entrypoint"
mapfile -t command < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint")
for i in "${!command[@]}"; do
  [[ "${command[$i]}" == /* ]] && command[i]="$(in_root "${command[$i]}")"
done
runtime_cwd="$(in_root "$cwd")"
(cd "$runtime_cwd" && "${command[@]}" --help >/dev/null)
(cd "$runtime_cwd" && "${command[@]}" serve --help | head -1)
# The runtime tree holds production dependencies only.
app="$(dirname "$(dirname "${command[-1]}")")"
for dev in typescript eslint prettier protobufjs; do
  [ ! -e "$app/node_modules/$dev" ] || { echo "dev dependency $dev in the runtime tree" >&2; exit 1; }
done
echo "--- ok: the Dockerfile's steps build a runtime tree of $(du -sh "$app" | cut -f1) that runs telex"
