# syntax=docker/dockerfile:1
# Telex: `telex serve` and the rest of the CLI on Node 20 (Debian bookworm slim).
# Build: docker build -t telex:0.1.0 .   Steps checked without a daemon:
# scripts/image-build-steps.sh (runs this file's build steps on a clean clone).

# --- build: compile TypeScript and the native modules, then drop dev dependencies
FROM node:20-bookworm-slim AS build
# node-gyp's toolchain for better-sqlite3 (compiled here, for this image's Node and glibc).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# better-sqlite3 (the one install script) compiled from source against this
# Node's own headers, rather than a prebuilt binary fetched from GitHub;
# snappy's napi-rs binary is a per-platform npm package (no compiler needed).
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && cd node_modules/better-sqlite3 \
 && npm run build-release -- --nodedir="$(dirname "$(dirname "$(command -v node)")")"
# The shipped build only: src/ without its tests (tsconfig.build.json); tests,
# test-support/, bench/ and scripts/ are neither copied nor compiled.
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build:release \
 && npm prune --omit=dev --no-audit --no-fund
# The pruned tree must run on its own, native modules included.
RUN node bin/telex.js --help >/dev/null \
 && node -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()" \
 && node -e "const s=require('snappy'); if (s.uncompressSync(s.compressSync('x')).toString() !== 'x') process.exit(1)"

# --- runtime: the pruned tree only, as a non-root user
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The data directory (SQLite store, durable buffer, pull cursors): a volume in Kubernetes.
RUN mkdir -p /var/lib/telex && chown 1000:1000 /var/lib/telex
COPY --from=build /app/package.json /app/package.json
COPY --from=build /app/node_modules /app/node_modules
COPY --from=build /app/bin /app/bin
COPY --from=build /app/dist/src /app/dist/src
# uid 1000 is the image's `node` user; numeric, so runAsNonRoot can verify it.
USER 1000:1000
# `telex serve`'s default --data-dir ./.telex lands in the volume.
WORKDIR /var/lib/telex
EXPOSE 19291 6443
# The heap's sizes: see src/serve/heap-flags.ts.
ENTRYPOINT ["node", "--min-semi-space-size=16", "--initial-old-space-size=64", "/app/bin/telex.js"]
CMD ["serve", "--help"]
