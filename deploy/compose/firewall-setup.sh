#!/usr/bin/env bash
# Firewall for a server running the compose deployment (run as root): only SSH, HTTP and HTTPS
# reach the machine from outside; every internal port is blocked — for host processes through UFW,
# and for Docker-published ports in the DOCKER-USER chain (Docker's own rules bypass UFW).
#   sudo deploy/compose/firewall-setup.sh [EXTERNAL_INTERFACE]   (default: the default route's)
#   deploy/compose/firewall-setup.sh --print-ports               (the blocked ports; changes nothing)
set -euo pipefail

# Ports that must never be reachable from outside: databases, brokers, the admin UIs and every
# service of deploy/services.tsv (its port column).
INTERNAL_PORTS=(5432 6379 5672 15672 15692 9092 9093 9090 3000 8080 5050)
TABLE="$(dirname "$0")/../services.tsv"
[ -f "$TABLE" ] || { echo "$TABLE is missing (run this script from the repository)" >&2; exit 1; }
mapfile -t -O "${#INTERNAL_PORTS[@]}" INTERNAL_PORTS < <(grep -v '^#' "$TABLE" | tail -n +2 | cut -f2)
if [ "${1:-}" = --print-ports ]; then echo "${INTERNAL_PORTS[*]}"; exit 0; fi

[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
command -v ufw >/dev/null || { echo "ufw is not installed (apt-get install ufw)" >&2; exit 1; }
command -v iptables >/dev/null || { echo "iptables is not installed" >&2; exit 1; }

EXTERNAL="${1:-$(ip route show default | awk '/default/ {print $5; exit}')}"
[ -n "$EXTERNAL" ] || { echo "no external interface found; pass it as the first argument" >&2; exit 1; }

ufw --force reset >/dev/null
ufw default deny incoming
ufw default allow outgoing
ufw allow 22/tcp comment 'SSH'
ufw allow 80/tcp comment 'HTTP (redirects to HTTPS)'
ufw allow 443/tcp comment 'HTTPS'
for port in "${INTERNAL_PORTS[@]}"; do
  ufw deny in on "$EXTERNAL" to any port "$port" proto tcp comment 'internal'
done
ufw --force enable

# Docker publishes ports through its own NAT rules, before UFW sees the packets: drop new
# connections from the external interface to the internal ports there as well. The rules carry a
# comment, so that a second run replaces them (whatever the port list was then); multiport takes at
# most 15 ports a rule, hence one rule per 15.
TAG=blazing-sun-internal-ports
iptables -N DOCKER-USER 2>/dev/null || true
mapfile -t earlier < <(iptables -S DOCKER-USER | grep -F -- "--comment $TAG" | sed 's/^-A /-D /' || true)
for rule in "${earlier[@]}"; do
  read -r -a args <<< "$rule"
  iptables "${args[@]}"
done
for ((i = 0; i < ${#INTERNAL_PORTS[@]}; i += 15)); do
  ports="$(IFS=,; echo "${INTERNAL_PORTS[*]:i:15}")"
  iptables -I DOCKER-USER -i "$EXTERNAL" -p tcp -m multiport --dports "$ports" -m conntrack --ctstate NEW \
    -m comment --comment "$TAG" -j DROP
done

ufw status verbose
echo "Blocked from $EXTERNAL: ${INTERNAL_PORTS[*]}"
