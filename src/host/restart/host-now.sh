# shellcheck shell=sh
# The host now, after a failed step (hostNowScript, commands/restart.ts): its boot id, where
# current points (releases) and who holds each service port, one `port N PID COMMAND;…` line each.
#
# Inputs: now_target; now_ports. After the host library.
: "${now_target:?}" "${now_ports?}"
read -r boot 2>/dev/null < /proc/sys/kernel/random/boot_id || boot=
printf 'boot %s\n' "$boot"
printf 'current %s\n' "$(cd -- "$now_target" 2>/dev/null && readlink current)"
for port in $now_ports; do printf 'port %s %s\n' "$port" "$(port_holders "$port" | tr '\n' ';')"; done
