#!/usr/bin/env bash
# Debian's SLURM (slurmctld, slurmd, the client commands) and munge, for the SLURM farm
# test that tools/matrix.sh runs. Installed only when missing; needs root (apt-get).
set -euo pipefail
missing=0
for tool in slurmctld slurmd sbatch squeue munged mungekey; do
  command -v "$tool" > /dev/null || missing=1
done
[ "$missing" = 1 ] || exit 0
echo "install_slurm: installing Debian's slurmctld, slurmd, slurm-client and munge"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q > /dev/null
apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge > /dev/null
