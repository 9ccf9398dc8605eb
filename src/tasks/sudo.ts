/**
 * When a user's command failed because sudo asked for a password (a deploy cannot type one), the
 * sudoers line that allows exactly that command without one, in words; '' otherwise.
 */
export function sudoHint(output: string, command: string, user: string): string {
  if (
    !/sudo: (a password|a terminal) is required|\[sudo\] password for|sudo: no tty present/.test(
      output
    )
  )
    return ''
  const invoked = /(?:^|[;&|(]\s*|\s)sudo\s+((?:-\S+\s+)*)([^;&|)]+)/.exec(command)?.[2]?.trim()
  const words = invoked?.split(/\s+/) ?? []
  const program = words[0]
    ? words[0].startsWith('/')
      ? words[0]
      : `/usr/bin/${words[0]}`
    : '/path/to/program'
  const allowed = [program, ...words.slice(1)].join(' ')
  return (
    ` sudo asked for a password, which a deploy cannot type: allow the deploy user exactly this command without one, with a line in /etc/sudoers.d/${user} (edit it with visudo -f): ` +
    `${user} ALL=(root) NOPASSWD: ${allowed}` +
    `${words[0] && !words[0].startsWith('/') ? ` (check the path with command -v ${words[0]})` : ''}, and call it as sudo -n so it fails at once rather than wait for a password.`
  )
}
