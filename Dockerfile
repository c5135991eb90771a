# syntax=docker/dockerfile:1
# Build stage: compiles native modules (sqlite3) and TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: only the compiled app and production dependencies, as an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    STORE_URL=sqlite:///data/newswire.sqlite \
    CONFIG_FILE=/config/newswire.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data /config && chown node:node /data
USER node
VOLUME ["/data"]
# Settings come from the environment (docker run --env-file .env); no .env or secrets are baked in.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
