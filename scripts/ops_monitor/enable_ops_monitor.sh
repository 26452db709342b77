#!/bin/sh
# Kept for people used to the old script: `ops-atomic enable` does the work.
# Arguments pass through, e.g. `monitor`; see ops_atomic.sh for the root and the binary.
exec "$(dirname "$0")/ops_atomic.sh" enable "$@"
