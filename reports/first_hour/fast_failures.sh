#!/bin/bash
# Seconds of --help, a wrong --data (the folder above the dataset) and a missing run folder, for two
# checkouts interleaved three times: OLD (a git worktree of the earlier commit) and NEW (this one).
#   OLD=../pre29 NEW=. DATA=../shared bash reports/first_hour/fast_failures.sh > reports/first_hour/fast_failures.tsv
: "${OLD:?a checkout of the earlier commit}" "${NEW:=.}" "${DATA:=../shared}"
python=${PYTHON:-.venv/bin/python}
for round in 1 2 3; do
  for code in "$OLD" "$NEW"; do
    for case in "--help" "compare --data $DATA" "predict no-such-run"; do
      start=$(date +%s.%N)
      PYTHONPATH=$code $python -m multimodal_genre $case > /dev/null 2>&1
      end=$(date +%s.%N)
      printf "%s\t%s\t%s\t%.2f\n" "$round" "$code" "$case" "$(echo "$end - $start" | bc)"
    done
  done
done
