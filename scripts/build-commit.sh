#!/bin/sh
# The commit a build is made from, as Package.swift writes it: 12 hex digits of HEAD, with -dirty
# when tracked files have uncommitted changes; nothing outside a git clone.
cd "$(dirname "$0")/.." || exit 0
head=$(git rev-parse HEAD 2>/dev/null) || exit 0
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -1)
echo "$(echo "$head" | cut -c1-12)${dirty:+-dirty}"
