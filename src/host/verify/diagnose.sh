# shellcheck shell=sh
# For a failure report (diagnosticsScript, commands/verify.ts): this start's lines of the start log
# (when diag_header names them) and who holds each service port.
#
# Inputs: diag_log, the start log; diag_header, the line that begins this start's lines (empty:
# none); diag_ports. After the host library.
: "${diag_log:?}" "${diag_header?}" "${diag_ports?}"
if [ -n "$diag_header" ]; then
  printf -- '--- this start in %s\n' "$diag_log"
  start_lines "$diag_log" "$diag_header"
fi
for port in $diag_ports; do
  holders=$(port_holders "$port")
  if [ -n "$holders" ]; then printf -- '--- port %s is held by: %s\n' "$port" "$holders"
  elif port_held "$port"; then printf -- '--- port %s is held by a process this user cannot see\n' "$port"
  else printf -- '--- port %s is free\n' "$port"; fi
done
