#!/usr/bin/env bash
# supervise.sh CMD ARGS...: runs the ClickHouse server and starts it again
# if it exits. chDB's embedded server has been seen to exit without a word
# while clients were being killed (the crash tests kill -9 processes that
# hold ClickHouse connections); its data is on disk, so a restart loses
# nothing and clients retry their connection. TERM or INT stops the server
# and the loop.
set -u
child=0
stop() {
  [[ $child -gt 0 ]] && kill -TERM "$child" 2>/dev/null && wait "$child"
  exit 0
}
trap stop TERM INT
while :; do
  "$@" &
  child=$!
  wait "$child"
  rc=$?
  echo "supervise: clickhouse exited with status $rc at $(date -u +%FT%TZ); restarting in 1 s" >&2
  sleep 1
done
