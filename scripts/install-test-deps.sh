#!/usr/bin/env bash
# Installs what the tests need into .cache/ (idempotent). Nothing yet.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
